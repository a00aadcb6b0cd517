//! Fuzzes the `ticklane run` configuration loader on *documents*: the fuzzer's bytes choose
//! sections, keys and values of the configuration's schema (`../run_config_doc.rs`), `toml`
//! writes them out, and the loader's checks run as in the `run_config` target
//! (`../run_config_check.rs`). The byte-level `run_config` target covers the TOML grammar;
//! this one covers the loader's own validation without spending its time there. Run from
//! `feeds/`: `cargo +nightly fuzz run run_config_doc`.
#![no_main]

use libfuzzer_sys::fuzz_target;

#[allow(dead_code)]
#[path = "../../../src/run_config.rs"]
mod run_config;

use run_config::RunConfig;

include!("../run_config_check.rs");
include!("../run_config_doc.rs");

fuzz_target!(|data: &[u8]| run_config_check(run_config_document(data).as_bytes()));
