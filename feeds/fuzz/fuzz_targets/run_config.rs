//! Fuzzes the `ticklane run` configuration loader (`RunConfig::parse` of the binary crate) on
//! arbitrary text.
//!
//! The loader lives in the binary crate (`src/run_config.rs`), which a library cannot depend
//! on; it only needs serde, toml, anyhow and the engine crates, so the target compiles that file
//! in directly. Run from `feeds/`: `cargo +nightly fuzz run run_config`. The body and its checks
//! are in `../run_config_check.rs`, also run over the corpus by the `fuzz_corpus` test module at
//! the end of `src/run_config.rs`.
#![no_main]

use libfuzzer_sys::fuzz_target;

#[allow(dead_code)]
#[path = "../../../src/run_config.rs"]
mod run_config;

use run_config::RunConfig;

include!("../run_config_check.rs");

fuzz_target!(|data: &[u8]| run_config_check(data));
