//! Fuzzes the capture reader (`ticklane_replay::CaptureReader`) over arbitrary bytes and over
//! small valid captures damaged at fuzzer-chosen offsets.
//!
//! Run from `feeds/`: `cargo +nightly fuzz run capture_reader`. The body and its checks are
//! `ticklane_replay::fuzzing::capture_reader` (also run over the corpus by
//! `replay/tests/fuzz_corpus.rs`).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| ticklane_replay::fuzzing::capture_reader(data));
