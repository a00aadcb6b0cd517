//! Fuzzes the ITCH 5.0 decoder and normalizer on arbitrary bytes.
//!
//! Run from `feeds/`: `cargo +nightly fuzz run itch_decode`. The body and its checks are
//! `ticklane_feeds::fuzzing::itch_decode` (also run over the corpus by
//! `feeds/tests/fuzz_corpus.rs`).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| ticklane_feeds::fuzzing::itch_decode(data));
