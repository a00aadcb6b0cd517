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
//!
//! Measuring must not cost what it measures: every event's hops are recorded (no sampling),
//! so the lane reads the clock once per event that reaches the strategies, plus once when
//! orders leave (the stamp that ends one event's span also starts the next event's when the
//! two are processed back to back; the first item of a batch and an item after one that
//! skipped the strategies take their own, see [`Lane::process`](crate::Lane::process)), and a
//! sample is one counter increment in HdrHistogram's bucket layout
//! ([`LatencyRecorder::record`]). Together they took the embedded
//! session's end-to-end rate with latency on from about 11 to about 14–15 M events/s on the
//! development VM (`BENCHMARKS.md`).

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

/// log2 of the sub-buckets in half a bucket ([`SUB_BUCKETS`] / 2).
const HALF_MAGNITUDE: u32 = 10;
/// HdrHistogram's `leading_zero_count_base` for a unit of 1 ns and [`SUB_BUCKETS`] sub-buckets.
const LEADING_ZERO_BASE: u32 = 64 - (HALF_MAGNITUDE + 1);
/// Count slots per hop: the index of [`MAX_TRACKED_NS`], plus one.
const SLOTS: usize = counts_index(MAX_TRACKED_NS) + 1;

/// Where HdrHistogram (1 ns unit, [`SUB_BUCKETS`] sub-buckets) counts `value` (≥ 1): the
/// bucket is the power of two above the first 2,048 values, the sub-bucket the value's top 11
/// bits. Values up to 2,047 ns are exact, larger ones within 1/1,024 (3 significant digits).
#[inline(always)]
const fn counts_index(value: u64) -> usize {
    let bucket = LEADING_ZERO_BASE - (value | (SUB_BUCKETS as u64 - 1)).leading_zeros();
    let sub = (value >> bucket) as usize;
    ((bucket as usize + 1) << HALF_MAGNITUDE) + sub - (1 << HALF_MAGNITUDE)
}

/// The lowest value counted at `index` (the inverse of [`counts_index`]).
fn lowest_value(index: usize) -> u64 {
    let half = 1usize << HALF_MAGNITUDE;
    let bucket = (index >> HALF_MAGNITUDE).saturating_sub(1);
    let sub = if index < half {
        index
    } else {
        (index & (half - 1)) + half
    };
    (sub as u64) << bucket
}

/// The histograms of one lane (or the merge of several).
///
/// Recording is on the lane's hot path, once per hop per event, so it is a plain counter
/// increment in HdrHistogram's own bucket layout (the index computed inline: a
/// `leading_zeros`, two shifts and an add), with none of a `Histogram`'s per-sample bookkeeping
/// (total, min, max, range checks, a call). A [`Histogram`] with exactly the same counts is
/// built from them when someone reads the percentiles, so every figure (percentiles, max, mean,
/// `.hgrm` files) is HdrHistogram's own.
#[derive(Clone, Debug)]
pub struct LatencyRecorder {
    /// `Hop::ALL.len()` runs of [`SLOTS`] counts, hop by hop.
    counts: Box<[u64]>,
    /// Samples per hop (the sum of its counts), for [`LatencyRecorder::quantiles`].
    totals: [u64; Hop::ALL.len()],
    clamped: u64,
}

impl Default for LatencyRecorder {
    fn default() -> Self {
        Self::new()
    }
}

/// An empty histogram with the recorder's bounds and precision.
pub fn empty_histogram() -> Histogram<u64> {
    #[allow(clippy::expect_used)]
    Histogram::new_with_bounds(1, MAX_TRACKED_NS, SIGFIG).expect("constant bounds are valid")
}

impl LatencyRecorder {
    /// Empty histograms covering 1 ns .. [`MAX_TRACKED_NS`] at 3 significant digits; all memory
    /// is allocated (and faulted in) here, none when recording.
    pub fn new() -> Self {
        // `vec!` of zeros comes zeroed from the allocator but untouched: writing the counts once
        // now faults their pages in, so that the first sample in a new range (a tail value,
        // typically) does not also take a page fault on the lane thread.
        // (The zero is hidden from the optimizer, which would otherwise drop a store of zeros
        // into memory it knows is zeroed.)
        let mut counts = vec![0u64; Hop::ALL.len() * SLOTS].into_boxed_slice();
        counts.fill(std::hint::black_box(0));
        Self {
            counts,
            totals: [0; Hop::ALL.len()],
            clamped: 0,
        }
    }

    /// Records one sample (values above [`MAX_TRACKED_NS`] are clamped and counted; 0 counts
    /// as 1 ns, the smallest value tracked).
    #[inline(always)]
    pub fn record(&mut self, hop: Hop, ns: u64) {
        if ns > MAX_TRACKED_NS {
            self.clamped += 1;
        }
        let i = hop as usize * SLOTS + counts_index(ns.clamp(1, MAX_TRACKED_NS));
        if let Some(c) = self.counts.get_mut(i) {
            *c += 1;
            self.totals[hop as usize] += 1;
        }
    }

    /// Samples clamped to [`MAX_TRACKED_NS`].
    pub fn clamped(&self) -> u64 {
        self.clamped
    }

    fn counts_of(&self, hop: Hop) -> &[u64] {
        let start = hop as usize * SLOTS;
        &self.counts[start..start + SLOTS]
    }

    /// The histogram of `hop` (built from the counts: allocates).
    pub fn histogram(&self, hop: Hop) -> Histogram<u64> {
        let mut h = empty_histogram();
        self.fill_histogram(hop, &mut h);
        h
    }

    /// Replaces the contents of `h` (made by [`empty_histogram`]) with the samples of `hop`,
    /// without allocating: for percentiles read while recording goes on.
    pub fn fill_histogram(&self, hop: Hop, h: &mut Histogram<u64>) {
        h.reset();
        for (i, &n) in self.counts_of(hop).iter().enumerate() {
            if n != 0 {
                // The value is in range and the counts are u64: this cannot fail.
                let _ = h.record_n(lowest_value(i), n);
            }
        }
    }

    /// Adds another recorder's samples.
    pub fn merge(&mut self, other: &LatencyRecorder) {
        for (a, b) in self.counts.iter_mut().zip(other.counts.iter()) {
            *a += b;
        }
        for (a, b) in self.totals.iter_mut().zip(other.totals) {
            *a += b;
        }
        self.clamped += other.clamped;
    }

    /// `hop`'s values at the quantiles `qs` (each in 0..=1, in ascending order), as
    /// [`Histogram::value_at_quantile`] gives them on the same samples, without building the
    /// histogram: the counts are read from the lowest up to the last quantile's slot only, a
    /// few thousand slots where the tail is short (a few µs), where resetting and filling a
    /// `Histogram` touched all 27,648 of its slots (50–80 µs on the lane thread with the
    /// quantile reads; `BENCHMARKS.md`, "Housekeeping in idle time"). For figures read while
    /// recording goes on (the lane's status).
    pub fn quantiles<const N: usize>(&self, hop: Hop, qs: [f64; N]) -> [u64; N] {
        let total = self.totals[hop as usize];
        let mut out = [0u64; N];
        if total == 0 {
            return out;
        }
        let counts = self.counts_of(hop);
        let (mut reached, mut next) = (0u64, 0usize);
        debug_assert!(
            qs.windows(2)
                .all(|w| w[1].partial_cmp(&w[0]) != Some(core::cmp::Ordering::Less)),
            "quantiles not ascending"
        );
        for (o, q) in out.iter_mut().zip(qs) {
            // As HdrHistogram: capped at 1 (a NaN is not capped: its target is 1, the first
            // sample, or where the previous quantile's reading stopped).
            let q = if q > 1.0 { 1.0 } else { q };
            // HdrHistogram's target: the first slot whose running count reaches it.
            let target = ((q * total as f64).ceil() as u64).max(1);
            while reached < target {
                let Some(&n) = counts.get(next) else {
                    break;
                };
                reached += n;
                next += 1;
            }
            let slot = next.saturating_sub(1);
            *o = if q == 0.0 {
                lowest_value(slot)
            } else {
                // The slot's highest equivalent value: just below the next slot's lowest.
                lowest_value(slot + 1) - 1
            };
        }
        out
    }

    /// Percentiles of `hop`.
    pub fn summary(&self, hop: Hop) -> HopSummary {
        summarize(&self.histogram(hop))
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
        write_percentiles(&self.histogram(hop), 1000.0, out)
    }
}

/// Percentiles of a histogram.
pub fn summarize(h: &Histogram<u64>) -> HopSummary {
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

    /// The inline bucket layout is HdrHistogram's: every value lands where `Histogram` counts
    /// it (the same lowest equivalent value), and the slots cover the whole tracked range.
    #[test]
    fn counts_index_is_hdrhistograms_layout() {
        let h = empty_histogram();
        let check = |v: u64| {
            let i = counts_index(v);
            assert!(i < SLOTS, "{v} -> {i}");
            assert_eq!(lowest_value(i), h.lowest_equivalent(v), "value {v}");
            // The next slot starts just past this value's equivalence range.
            assert_eq!(
                lowest_value(i + 1),
                h.highest_equivalent(v) + 1,
                "value {v}"
            );
        };
        for v in 1..5_000 {
            check(v);
        }
        for shift in 11..36 {
            let p = 1u64 << shift;
            for v in [p - 1, p, p + 1, p + p / 3] {
                check(v.min(MAX_TRACKED_NS));
            }
        }
        check(MAX_TRACKED_NS);
    }

    proptest::proptest! {
        /// Percentiles, max, mean and the `.hgrm` text of the recorder equal those of a plain
        /// `Histogram` fed the same samples (clamped the same way).
        #[test]
        fn recorder_matches_a_plain_histogram(
            samples in proptest::collection::vec(
                proptest::prop_oneof![0u64..3_000, 0u64..10_000_000, 0u64..(2 * MAX_TRACKED_NS)],
                1..400,
            )
        ) {
            let mut r = LatencyRecorder::new();
            let mut h = empty_histogram();
            for &v in &samples {
                r.record(Hop::Strategy, v);
                h.saturating_record(v.clamp(1, MAX_TRACKED_NS));
            }
            proptest::prop_assert_eq!(r.summary(Hop::Strategy), summarize(&h));
            let built = r.histogram(Hop::Strategy);
            proptest::prop_assert_eq!(built.len(), h.len());
            proptest::prop_assert_eq!(built.min_nz(), h.min_nz());
            proptest::prop_assert!((built.mean() - h.mean()).abs() < 1e-6);
            let (mut a, mut b) = (Vec::new(), Vec::new());
            r.write_hgrm(Hop::Strategy, &mut a).unwrap_or_default();
            write_percentiles(&h, 1000.0, &mut b).unwrap_or_default();
            proptest::prop_assert_eq!(a, b);
            let clamped = samples.iter().filter(|&&v| v > MAX_TRACKED_NS).count() as u64;
            proptest::prop_assert_eq!(r.clamped(), clamped);
            proptest::prop_assert_eq!(r.summary(Hop::Ring), HopSummary::default());
        }
    }

    #[test]
    fn fill_histogram_replaces_the_contents() {
        let mut r = LatencyRecorder::new();
        let mut h = empty_histogram();
        r.record(Hop::Decode, 700);
        r.fill_histogram(Hop::Decode, &mut h);
        assert_eq!((h.len(), h.max()), (1, 700));
        r.record(Hop::Decode, 90);
        r.record(Hop::Publish, 5_000);
        r.fill_histogram(Hop::Decode, &mut h);
        assert_eq!((h.len(), h.min(), h.max()), (2, 90, 700));
    }

    proptest::proptest! {
        /// The status quantiles equal HdrHistogram's own on the same samples (values from
        /// 1 ns to past the tracked range, spread over every magnitude).
        #[test]
        fn quantiles_are_hdrhistograms(
            samples in proptest::collection::vec((0u32..40, 0u64..1 << 40), 1..300),
            extra in proptest::collection::vec(0.0f64..=1.0, 0..4),
        ) {
            let mut r = LatencyRecorder::new();
            for (bits, v) in samples {
                r.record(Hop::Strategy, v >> bits);
            }
            let mut qs = vec![-0.5, 0.0, 0.5, 0.9, 0.99, 0.999, 0.9999, 1.0, 1.5, f64::NAN];
            qs.extend(extra);
            qs.sort_by(f64::total_cmp);
            let h = r.histogram(Hop::Strategy);
            for q in qs {
                proptest::prop_assert_eq!(
                    r.quantiles(Hop::Strategy, [q]),
                    [h.value_at_quantile(q)],
                    "quantile {}", q
                );
            }
            let [p50, p99] = r.quantiles(Hop::Strategy, [0.5, 0.99]);
            proptest::prop_assert_eq!((p50, p99), (h.value_at_quantile(0.5), h.value_at_quantile(0.99)));
            proptest::prop_assert_eq!(r.quantiles(Hop::Ring, [0.5]), [0]);
        }
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
