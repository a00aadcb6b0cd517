//! Fuzzes the MoldUDP64 packet and request parsers on arbitrary bytes (the pcap reader has its
//! own target, `pcap_reader`).
//!
//! Run from `feeds/`: `cargo +nightly fuzz run moldudp64_parse`. The body and its checks are
//! `ticklane_feeds::fuzzing::moldudp64_parse` (also run over the corpus by
//! `feeds/tests/fuzz_corpus.rs`).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| ticklane_feeds::fuzzing::moldudp64_parse(data));
