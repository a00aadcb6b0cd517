//! The CLI on generated sessions: `gen` is deterministic, the binary file, pcap and pcapng of
//! one session carry the same messages and give the same BBO stream, and `demo` / `bench`
//! run clean (correctness only: speed is measured in benches, never asserted in tests).

#![allow(clippy::unwrap_used)]

use std::path::Path;
use std::process::{Command, Output};

const BIN: &str = env!("CARGO_BIN_EXE_ticklane");

fn run(args: &[&str]) -> Output {
    let o = Command::new(BIN).args(args).output().unwrap();
    assert!(
        o.status.success(),
        "ticklane {args:?} failed: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    o
}

fn gen(dir: &Path, name: &str, seed: u64, format: &str) -> String {
    let p = dir.join(name);
    let ps = p.to_str().unwrap().to_string();
    run(&[
        "gen",
        "--seed",
        &seed.to_string(),
        "--messages",
        "50000",
        "--instruments",
        "6",
        "--format",
        format,
        "-o",
        &ps,
    ]);
    ps
}

fn inspect(path: &str) -> serde_json::Value {
    serde_json::from_slice(&run(&["inspect", "--json", path]).stdout).unwrap()
}

#[test]
fn gen_is_deterministic_and_seed_sensitive() {
    let dir = tempfile::tempdir().unwrap();
    let a = gen(dir.path(), "a.itch", 3, "itch");
    let b = gen(dir.path(), "b.itch", 3, "itch");
    let c = gen(dir.path(), "c.itch", 4, "itch");
    let (a, b, c) = (
        std::fs::read(a).unwrap(),
        std::fs::read(b).unwrap(),
        std::fs::read(c).unwrap(),
    );
    assert_eq!(a, b);
    assert_ne!(a, c);
    let p1 = std::fs::read(gen(dir.path(), "a.pcap", 3, "pcap")).unwrap();
    let p2 = std::fs::read(gen(dir.path(), "b.pcap", 3, "pcap")).unwrap();
    assert_eq!(
        p1, p2,
        "captures are deterministic too (fixed capture clock)"
    );
}

#[test]
fn binary_pcap_and_pcapng_of_one_session_agree() {
    let dir = tempfile::tempdir().unwrap();
    let itch = gen(dir.path(), "s.itch", 11, "itch");
    let pcap = gen(dir.path(), "s.pcap", 11, "pcap");
    let pcapng = gen(dir.path(), "s.pcapng", 11, "pcapng");
    let (vi, vp, vn) = (inspect(&itch), inspect(&pcap), inspect(&pcapng));
    assert_eq!(vi["messages"], 50_000);
    assert_eq!(vi["errors"], 0);
    assert_eq!(vi["format"], "binary");
    assert_eq!(vp["format"], "pcap");
    assert_eq!(vn["format"], "pcapng");
    for v in [&vp, &vn] {
        assert_eq!(v["messages"], vi["messages"]);
        assert_eq!(v["by_type"], vi["by_type"]);
        assert_eq!(v["errors"], 0);
        assert_eq!(v["gaps"], 0);
        assert_eq!(v["duplicates"], 0);
        assert_eq!(v["end_of_session"], 1);
        assert!(v["packets"].as_u64().unwrap() > 1_000);
    }
    let bbo = |p: &str| run(&["bbo", p, "--symbol", "MSFT"]).stdout;
    let reference = bbo(&itch);
    assert!(reference.split(|&b| b == b'\n').count() > 1_000);
    assert_eq!(bbo(&pcap), reference);
    assert_eq!(bbo(&pcapng), reference);
}

#[test]
fn demo_runs_clean_on_the_embedded_default() {
    let o = run(&["demo", "--messages", "200000"]);
    let text = String::from_utf8(o.stdout).unwrap();
    assert!(text.contains("errors 0, book anomalies 0"), "{text}");
    assert!(text.contains("order_added"), "{text}");
    assert!(text.contains("AAPL"), "{text}");
}

#[test]
fn bench_reports_every_stage_without_errors() {
    let o = run(&["bench", "--messages", "30000", "--passes", "1", "--json"]);
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let stages: Vec<&str> = v
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["stage"].as_str().unwrap())
        .collect();
    assert_eq!(
        stages,
        [
            "decode",
            "decode+normalize",
            "decode+normalize+book",
            "decode+normalize+lane",
            "lane, every book kept",
            "lane, latency measured"
        ]
    );
    for r in v.as_array().unwrap() {
        assert_eq!(r["messages"], 30_000);
    }
    // All lane stages decide the same (the bench fails otherwise): neither the books kept
    // nor measuring latency changes a decision.
    assert_eq!(v[3]["digest"], v[4]["digest"]);
    assert_eq!(v[3]["digest"], v[5]["digest"]);
    assert_eq!(v[3]["digest"].as_str().map(str::len), Some(64));
}

/// `bbo` prints the changes a book goes through before the symbol's directory message too (a
/// file may name a symbol after its first orders), and nothing, not even the header, for a
/// symbol the file does not name.
#[test]
fn bbo_counts_changes_made_before_the_symbols_directory_message() {
    use ticklane_feeds::itch::{encode_framed, AddOrder, StockDirectory};
    let sym = *b"AAPL    ";
    let mut buf = Vec::new();
    encode_framed(
        &AddOrder::new(1, 0, 1, 5, b'B', 100, sym, 100_000),
        &mut buf,
    );
    encode_framed(
        &StockDirectory::new(
            1, 0, 2, sym, b'Q', b'N', 100, b'N', b'C', *b"Z ", b'P', b'N', b'N', b'1', b'N', 0,
            b'N',
        ),
        &mut buf,
    );
    encode_framed(
        &AddOrder::new(1, 0, 3, 9, b'S', 200, sym, 100_100),
        &mut buf,
    );
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("late_directory.itch50");
    std::fs::write(&path, &buf).unwrap();
    let path = path.to_str().unwrap();
    let out = run(&["bbo", path, "--symbol", "AAPL"]);
    assert_eq!(
        String::from_utf8(out.stdout).unwrap(),
        "timestamp_ns,bid_px,bid_qty,ask_px,ask_qty\n\
         1,10.0000,100,,\n\
         3,10.0000,100,10.0100,200\n"
    );
    let missing = Command::new(BIN)
        .args(["bbo", path, "--symbol", "MSFT"])
        .output()
        .unwrap();
    assert_eq!(missing.status.code(), Some(2));
    assert!(missing.stdout.is_empty(), "a header for a symbol not there");
    assert!(String::from_utf8_lossy(&missing.stderr).contains("not found"));
}
