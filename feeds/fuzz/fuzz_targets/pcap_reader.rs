//! Fuzzes the pcap / pcapng reader (frames and UDP datagrams) on arbitrary bytes.
//!
//! Run from `feeds/`: `cargo +nightly fuzz run pcap_reader`. The body and its checks are
//! `ticklane_feeds::fuzzing::pcap_reader` (also run over the corpus by
//! `feeds/tests/fuzz_corpus.rs`).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| ticklane_feeds::fuzzing::pcap_reader(data));
