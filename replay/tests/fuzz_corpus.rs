//! The `capture_reader` fuzz corpus as a regression test: every file of
//! `feeds/fuzz/corpus/capture_reader/` and of `feeds/fuzz/regressions/capture_reader/` (crash
//! reproducers of fixed findings) goes through `ticklane_replay::fuzzing::capture_reader` on the
//! stable toolchain.
//!
//! The seed inputs the corpus started from are written by the ignored test `write_seeds`
//! (`cargo test -p ticklane-replay --test fuzz_corpus -- --ignored write_seeds`); see
//! `feeds/fuzz/README.md`.

#![allow(clippy::unwrap_used)] // test helpers outside #[test] fns panic on failure by design

use std::path::{Path, PathBuf};

use ticklane_replay::fuzzing::{capture_reader, template_capture};
use ticklane_replay::{Compression, Line};

const TARGET: &str = "capture_reader";

fn fuzz_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../feeds/fuzz")
}

#[test]
fn capture_reader_corpus() {
    ticklane_feeds::fuzzing::run_corpus(&fuzz_dir(), TARGET, capture_reader);
}

/// The seeds pass too.
#[test]
fn seeds_pass() {
    for (name, data) in seeds() {
        let r = std::panic::catch_unwind(|| capture_reader(&data));
        assert!(r.is_ok(), "seed {name} fails");
    }
}

/// Writes the seed inputs into `feeds/fuzz/corpus/capture_reader/seed-*`.
#[test]
#[ignore = "writes the seed corpus; run by hand"]
fn write_seeds() {
    let dir = fuzz_dir().join("corpus").join(TARGET);
    std::fs::create_dir_all(&dir).unwrap();
    for (name, data) in seeds() {
        std::fs::write(dir.join(format!("seed-{name}")), data).unwrap();
    }
}

/// Template mode (odd first byte: records, block size, compression / trailer, content seed,
/// then damages of 5 bytes: offset u32 LE, xor mask or 0 = cut) and raw mode (even first byte,
/// then a whole capture).
fn seeds() -> Vec<(String, Vec<u8>)> {
    let mut out = vec![
        ("template-plain".to_string(), vec![1, 10, 8, 0, 3]),
        ("template-zstd".to_string(), vec![3, 20, 40, 1, 7]),
        ("template-unfinished".to_string(), vec![5, 12, 4, 2, 9]),
        (
            "template-flip".to_string(),
            vec![7, 10, 8, 0, 3, 100, 0, 0, 0, 0x40],
        ),
        (
            "template-cut".to_string(),
            vec![9, 16, 8, 0, 3, 200, 0, 0, 0, 0],
        ),
    ];
    let records: Vec<(u64, Line, Vec<u8>)> = (0..6u8)
        .map(|i| {
            let line = if i % 2 == 0 { Line::A } else { Line::B };
            (100 + u64::from(i), line, vec![i; usize::from(i) * 3])
        })
        .collect();
    for (name, compression, finished) in [
        ("raw-plain", Compression::None, true),
        ("raw-zstd", Compression::Zstd, true),
        ("raw-unfinished", Compression::None, false),
    ] {
        let mut data = vec![0];
        data.extend(template_capture(&records, 64, compression, finished));
        out.push((name.to_string(), data));
    }
    out
}
