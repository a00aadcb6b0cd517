//! Per-hop latency histograms (HdrHistogram), recorded on the lane's thread without allocation,
//! summarized at the end of a run and written as standard `.hgrm` percentile files.
//!
//! The hops of one event, stamped with [`HopClock`](crate::clock::HopClock):
//!
//! ```text
//! received ─decode─▶ decoded ─publish─▶ enqueued ─ring─▶ dequeued ─strategy─▶ decision ─order-out─▶ order out
//! ```
//!
//! plus the two end-to-end spans a trading desk quotes: **tick-to-decision** (received →
//! decision) and **tick-to-trade** (received → order out). `strategy` and the end-to-end spans
//! are recorded for events delivered to at least one strategy; `order-out` and tick-to-trade
//! for events after which at least one order left the lane.

use std::io::{self, Write};

use hdrhistogram::Histogram;

/// Highest value a histogram tracks (ns); larger values are clamped to it and counted.
pub const MAX_TRACKED_NS: u64 = 60_000_000_000;

/// Significant digits of every histogram.
const SIGFIG: u8 = 3;
/// Sub-buckets per bucket at [`SIGFIG`] digits: the smallest power of two ≥ 2 × 10^3.
const SUB_BUCKETS: u32 = 2048;

/// One measured span.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Hop {
    /// Received → decoded (feed thread).
    Decode,
    /// Decoded → enqueued into the lane's ring (routing, staging, backpressure).
    Publish,
    /// Enqueued → dequeued by the lane (cross-core hand-off plus queueing).
    Ring,
    /// Dequeued → the strategies' callbacks returned (book update and decision).
    Strategy,
    /// Decision → the orders were handed to the venue (risk checks, routing).
    OrderOut,
    /// Received → decision.
    TickToDecision,
    /// Received → order out.
    TickToTrade,
}

impl Hop {
    /// Every hop, in pipeline order.
    pub const ALL: [Hop; 7] = [
        Hop::Decode,
        Hop::Publish,
        Hop::Ring,
        Hop::Strategy,
        Hop::OrderOut,
        Hop::TickToDecision,
        Hop::TickToTrade,
    ];

    /// Stable short name (file names, JSON keys).
    pub const fn name(self) -> &'static str {
        match self {
            Hop::Decode => "decode",
            Hop::Publish => "publish",
            Hop::Ring => "ring",
            Hop::Strategy => "strategy",
            Hop::OrderOut => "order-out",
            Hop::TickToDecision => "tick-to-decision",
            Hop::TickToTrade => "tick-to-trade",
        }
    }
}

/// Percentiles of one hop, ns.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Default)]
pub struct HopSummary {
    /// Samples.
    pub count: u64,
    /// Median.
    pub p50: u64,
    /// 90th percentile.
    pub p90: u64,
    /// 99th percentile.
    pub p99: u64,
    /// 99.9th percentile.
    pub p999: u64,
    /// 99.99th percentile.
    pub p9999: u64,
    /// Maximum.
    pub max: u64,
}

/// The histograms of one lane (or the merge of several).
#[derive(Clone, Debug)]
pub struct LatencyRecorder {
    hists: [Histogram<u64>; 7],
    clamped: u64,
}

impl Default for LatencyRecorder {
    fn default() -> Self {
        Self::new()
    }
}

impl LatencyRecorder {
    /// Empty histograms covering 1 ns .. [`MAX_TRACKED_NS`] at 3 significant digits; all memory
    /// is allocated (and faulted in) here, none when recording.
    pub fn new() -> Self {
        let h = || {
            #[allow(clippy::expect_used)]
            let mut h = Histogram::new_with_bounds(1, MAX_TRACKED_NS, SIGFIG)
                .expect("constant bounds are valid");
            // The counts come zeroed from the allocator but untouched: writing them once now
            // faults their pages in, so that the first sample in a new range (a tail value,
            // typically) does not also take a page fault on the lane thread.
            h.reset();
            h
        };
        Self {
            hists: [h(), h(), h(), h(), h(), h(), h()],
            clamped: 0,
        }
    }

    /// Records one sample (values above [`MAX_TRACKED_NS`] are clamped and counted).
    #[inline(always)]
    pub fn record(&mut self, hop: Hop, ns: u64) {
        if ns > MAX_TRACKED_NS {
            self.clamped += 1;
        }
        self.hists[hop as usize].saturating_record(ns.clamp(1, MAX_TRACKED_NS));
    }

    /// Samples clamped to [`MAX_TRACKED_NS`].
    pub fn clamped(&self) -> u64 {
        self.clamped
    }

    /// The histogram of `hop`.
    pub fn histogram(&self, hop: Hop) -> &Histogram<u64> {
        &self.hists[hop as usize]
    }

    /// Adds another recorder's samples (same bounds, so this cannot fail).
    pub fn merge(&mut self, other: &LatencyRecorder) {
        for (a, b) in self.hists.iter_mut().zip(&other.hists) {
            // Same bounds and precision: addition never fails.
            let _ = a.add(b);
        }
        self.clamped += other.clamped;
    }

    /// Percentiles of `hop`.
    pub fn summary(&self, hop: Hop) -> HopSummary {
        let h = self.histogram(hop);
        if h.is_empty() {
            return HopSummary::default();
        }
        HopSummary {
            count: h.len(),
            p50: h.value_at_quantile(0.50),
            p90: h.value_at_quantile(0.90),
            p99: h.value_at_quantile(0.99),
            p999: h.value_at_quantile(0.999),
            p9999: h.value_at_quantile(0.9999),
            max: h.max(),
        }
    }

    /// The percentile distribution of `hop` as (percentile in 0..=1, value ns) points, five per
    /// halving of the distance to 100% (the points of the `.hgrm` file), for charts.
    pub fn percentile_curve(&self, hop: Hop) -> Vec<(f64, u64)> {
        let h = self.histogram(hop);
        if h.is_empty() {
            return Vec::new();
        }
        h.iter_quantiles(5)
            .map(|v| (v.quantile_iterated_to(), v.value_iterated_to()))
            .collect()
    }

    /// Writes `hop` in HdrHistogram's percentile-distribution text format (`.hgrm`, values in
    /// µs as HdrHistogram's plotter expects with a 1000 scaling ratio), readable by
    /// <https://hdrhistogram.github.io/HdrHistogram/plotFiles.html>.
    pub fn write_hgrm(&self, hop: Hop, out: &mut impl Write) -> io::Result<()> {
        write_percentiles(self.histogram(hop), 1000.0, out)
    }
}

/// The classic `outputPercentileDistribution` format, 5 ticks per half distance.
fn write_percentiles(h: &Histogram<u64>, scale: f64, out: &mut impl Write) -> io::Result<()> {
    writeln!(
        out,
        "{:>12} {:>14} {:>10} {:>14}\n",
        "Value", "Percentile", "TotalCount", "1/(1-Percentile)"
    )?;
    let mut total = 0u64;
    for v in h.iter_quantiles(5) {
        total += v.count_since_last_iteration();
        let q = v.quantile_iterated_to();
        let value = v.value_iterated_to() as f64 / scale;
        if q < 1.0 {
            writeln!(
                out,
                "{value:12.3} {q:14.12} {total:10} {:14.2}",
                1.0 / (1.0 - q)
            )?;
        } else {
            writeln!(out, "{value:12.3} {q:14.12} {total:10}")?;
        }
    }
    writeln!(
        out,
        "#[Mean    = {:12.3}, StdDeviation   = {:12.3}]",
        h.mean() / scale,
        h.stdev() / scale
    )?;
    writeln!(
        out,
        "#[Max     = {:12.3}, Total count    = {:12}]",
        h.max() as f64 / scale,
        h.len()
    )?;
    writeln!(
        out,
        "#[Buckets = {:12}, SubBuckets     = {:12}]",
        h.buckets(),
        SUB_BUCKETS
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_of_a_known_distribution() {
        let mut r = LatencyRecorder::new();
        for v in 1..=10_000u64 {
            r.record(Hop::Ring, v);
        }
        let s = r.summary(Hop::Ring);
        assert_eq!(s.count, 10_000);
        // 3 significant digits: each value within 0.1%.
        assert!((4995..=5005).contains(&s.p50), "{s:?}");
        assert!((9895..=9905).contains(&s.p99), "{s:?}");
        assert!((9985..=10_000).contains(&s.p999), "{s:?}");
        assert!((9_990..=10_010).contains(&s.max), "{s:?}");
        assert_eq!(r.summary(Hop::Decode), HopSummary::default());
    }

    #[test]
    fn merge_adds_counts_and_clamps_are_counted() {
        let mut a = LatencyRecorder::new();
        let mut b = LatencyRecorder::new();
        a.record(Hop::Decode, 100);
        b.record(Hop::Decode, 300);
        b.record(Hop::Decode, MAX_TRACKED_NS * 2);
        a.merge(&b);
        assert_eq!(a.summary(Hop::Decode).count, 3);
        assert_eq!(a.clamped(), 1);
        assert!(a.summary(Hop::Decode).max >= MAX_TRACKED_NS - MAX_TRACKED_NS / 1000);
    }

    #[test]
    fn hgrm_has_header_rows_and_footer() {
        let mut r = LatencyRecorder::new();
        for v in [1_000u64, 2_000, 3_000, 40_000] {
            r.record(Hop::TickToTrade, v);
        }
        let mut out = Vec::new();
        r.write_hgrm(Hop::TickToTrade, &mut out).unwrap_or_default();
        let text = String::from_utf8_lossy(&out);
        assert!(text.starts_with("       Value     Percentile TotalCount 1/(1-Percentile)"));
        // Values are reported at their bucket's highest equivalent value (40_000 ns → 40.031 µs).
        assert!(text.contains("#[Max     =       40.031"), "{text}");
        assert!(text.contains("SubBuckets     =         2048]"), "{text}");
        assert!(text.contains("Total count    =            4]"), "{text}");
        // The last row reaches percentile 1.0 with all samples.
        let last_row = text
            .lines()
            .rfind(|l| !l.starts_with('#') && !l.trim().is_empty())
            .unwrap_or_default();
        assert!(last_row.contains("1.000000000000          4"), "{last_row}");
    }
}
