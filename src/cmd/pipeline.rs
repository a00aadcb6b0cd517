//! The in-memory pipeline of `demo` and `bench`: a generated session as a binary-file image,
//! and decode + normalize + books of every instrument.

use ticklane_book::Market;
use ticklane_feeds::events::{for_each_event, EventStats};
use ticklane_feeds::synth::SynthConfig;

/// Generates a session as a NASDAQ binary file image in memory.
pub fn generate_framed(seed: u64, messages: u64, instruments: u16) -> anyhow::Result<Vec<u8>> {
    Ok(ticklane_feeds::synth::generate_framed(SynthConfig {
        seed,
        messages,
        instruments,
    })?)
}

/// Decode + normalize + books of every instrument.
pub fn decode_book(buf: &[u8], market: &mut Market) -> EventStats {
    let mut changes = 0u64;
    let mut s = for_each_event(buf, |ev| {
        let r = market.apply(ev);
        changes += u64::from(r.top_changed());
    });
    s.checksum = changes;
    s
}
