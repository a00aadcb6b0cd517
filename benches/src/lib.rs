//! Inputs shared by the criterion benchmarks: generated sessions as NASDAQ binary-file images,
//! made once per run with a fixed seed so every run measures the same bytes.

use ticklane_feeds::synth::SynthConfig;

/// Messages in the benchmark session (override with `TICKLANE_BENCH_MESSAGES`).
pub fn bench_messages() -> u64 {
    std::env::var("TICKLANE_BENCH_MESSAGES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(5_000_000)
}

/// A generated session (seed 1, 64 instruments) framed as a NASDAQ binary file.
///
/// The generator emits no `h` or `O` messages, which the `itchy` peer cannot parse.
pub fn session(messages: u64) -> Vec<u8> {
    ticklane_feeds::synth::generate_framed(SynthConfig {
        seed: 1,
        messages,
        instruments: 64,
    })
    .unwrap_or_default()
}

/// Helpers of the benches' interleaved modes: every contender run once per round, back to
/// back, many rounds, and each ratio taken between runs of the same round (a shared VM's
/// speed drifts from one stretch of seconds to the next, so runs seconds apart do not compare).
pub mod rounds {
    /// A `u64` from the environment variable `name`, if set and valid.
    pub fn env_u64(name: &str) -> Option<u64> {
        std::env::var(name).ok().and_then(|v| v.parse().ok())
    }

    /// `q`-quantile (nearest rank) of a sorted, non-empty slice.
    pub fn quantile(sorted: &[f64], q: f64) -> f64 {
        let i = ((sorted.len() - 1) as f64 * q).round() as usize;
        sorted[i]
    }

    /// `v`, sorted (total order: NaNs last).
    pub fn sorted(mut v: Vec<f64>) -> Vec<f64> {
        v.sort_by(f64::total_cmp);
        v
    }

    /// The median of a sorted, non-empty slice (the mean of the two middle values for an even
    /// count: the nearest rank would take the upper one).
    pub fn median(sorted: &[f64]) -> f64 {
        let n = sorted.len();
        if n % 2 == 1 {
            sorted[n / 2]
        } else {
            (sorted[n / 2 - 1] + sorted[n / 2]) / 2.0
        }
    }

    /// The median over rounds of `ours[i] / peer[i]`.
    pub fn median_ratio(ours: &[f64], peer: &[f64]) -> f64 {
        median(&sorted(ours.iter().zip(peer).map(|(o, p)| o / p).collect()))
    }

    #[cfg(test)]
    mod tests {
        #[test]
        fn median_of_odd_and_even_counts() {
            assert_eq!(super::median(&[1.0, 2.0, 9.0]), 2.0);
            assert_eq!(super::median(&[1.0, 2.0, 4.0, 9.0]), 3.0);
            assert_eq!(super::median(&[5.0]), 5.0);
            assert_eq!(super::median_ratio(&[2.0, 6.0], &[1.0, 2.0]), 2.5);
        }
    }
}
