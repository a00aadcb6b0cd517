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
