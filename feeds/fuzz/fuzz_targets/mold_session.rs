//! Fuzzes the MoldUDP64 receive session: a fuzzer-chosen sequence of packets on four lines,
//! clock steps, `poll`, `give_up_before` and `finish`.
//!
//! Run from `feeds/`: `cargo +nightly fuzz run mold_session`. The body and its checks
//! (in-order delivery, the accounting identity, ...) are `ticklane_feeds::fuzzing::mold_session`
//! (also run over the corpus by `feeds/tests/fuzz_corpus.rs`).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| ticklane_feeds::fuzzing::mold_session(data));
