//! The README followed as written: behaviours it documents that the binary did not
//! do.

#![allow(clippy::unwrap_used)]

use std::path::Path;
use std::process::{Command, Output};

const BIN: &str = env!("CARGO_BIN_EXE_ticklane");

fn ticklane(args: &[&str], dir: &Path) -> Output {
    Command::new(BIN)
        .args(args)
        .current_dir(dir)
        .output()
        .unwrap()
}

fn ok(args: &[&str], dir: &Path) -> Output {
    let o = ticklane(args, dir);
    assert!(
        o.status.success(),
        "ticklane {args:?}: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    o
}

fn gen(dir: &Path, messages: &str, instruments: &str, out: &str) {
    ok(
        &[
            "gen",
            "--seed",
            "3",
            "--messages",
            messages,
            "--instruments",
            instruments,
            "-o",
            out,
        ],
        dir,
    );
}

/// README: "`FILE` is detected by its first bytes: ... gzip (a gzipped NASDAQ binary file)"
/// and the usage line `ticklane bench ... [--file F]`; `bench --help`: "Measure this NASDAQ
/// binary file". A `.gz` NASDAQ file (the form NASDAQ publishes; `config/run.toml`'s example
/// `source.file` is one) is decoded as raw bytes: "decode: N errors", pointing at `inspect`,
/// which reads the same file with 0 errors.
#[test]
fn bench_reads_a_gzipped_nasdaq_file_as_every_other_command_does() {
    let dir = tempfile::tempdir().unwrap();
    gen(dir.path(), "3000", "4", "day.itch");
    let raw = std::fs::read(dir.path().join("day.itch")).unwrap();
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    std::io::Write::write_all(&mut gz, &raw).unwrap();
    std::fs::write(dir.path().join("day.itch.gz"), gz.finish().unwrap()).unwrap();
    // inspect reads it cleanly ...
    ok(&["inspect", "day.itch.gz"], dir.path());
    // ... bench should too, with the plain file's lane digest.
    let plain = ok(
        &["bench", "--file", "day.itch", "--passes", "1", "--json"],
        dir.path(),
    );
    let o = ticklane(
        &["bench", "--file", "day.itch.gz", "--passes", "1", "--json"],
        dir.path(),
    );
    assert!(
        o.status.success(),
        "bench --file day.itch.gz: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    let digest = |o: &Output| {
        let rows: Vec<serde_json::Value> = serde_json::from_slice(&o.stdout).unwrap();
        rows.last().unwrap()["digest"].clone()
    };
    assert_eq!(digest(&o), digest(&plain));
}

/// README (`run --out`): "money has six decimal places in the files". `summary.json` (one of
/// those files) writes each P&L figure at whatever scale the ledger's arithmetic left it:
/// "-69.5160000000", "54.9960", "2.9000" side by side; `fills.csv`'s `fee` has four.
#[test]
fn money_in_the_report_files_has_six_decimal_places() {
    let dir = tempfile::tempdir().unwrap();
    ok(&["run", "--messages", "300000", "--out", "out"], dir.path());
    let decimals = |s: &str| s.split_once('.').map_or(0, |(_, f)| f.len());
    let summary: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.path().join("out/summary.json")).unwrap())
            .unwrap();
    let mut bad = Vec::new();
    for s in summary["strategies"].as_array().unwrap() {
        for (k, v) in s["pnl"].as_object().unwrap() {
            let v = v.as_str().unwrap();
            if decimals(v) != 6 {
                bad.push(format!("summary.json {} pnl.{k} = {v}", s["name"]));
            }
        }
    }
    let fills = std::fs::read_to_string(dir.path().join("out/fills.csv")).unwrap();
    let header: Vec<&str> = fills.lines().next().unwrap().split(',').collect();
    let fee = header.iter().position(|h| *h == "fee").unwrap();
    if let Some(row) = fills.lines().nth(1) {
        let v = row.split(',').nth(fee).unwrap();
        if decimals(v) != 6 {
            bad.push(format!("fills.csv fee = {v}"));
        }
    }
    assert!(bad.is_empty(), "money not at six decimal places: {bad:#?}");
}

/// Moves the first stock directory message of locate 1 to just after the first message that is
/// later than that locate's first add (the directory entry keeps its own, earlier timestamp);
/// returns the add's timestamp (ns since midnight).
fn directory_after_first_add(dir: &Path, input: &str, output: &str) -> u64 {
    let raw = std::fs::read(dir.join(input)).unwrap();
    let mut frames = Vec::new();
    let mut at = 0;
    while at + 2 <= raw.len() {
        let len = usize::from(u16::from_be_bytes([raw[at], raw[at + 1]]));
        frames.push(raw[at..at + 2 + len].to_vec());
        at += 2 + len;
    }
    let locate = |f: &[u8]| u16::from_be_bytes([f[3], f[4]]);
    let ts = |f: &[u8]| f[7..13].iter().fold(0u64, |a, &b| (a << 8) | u64::from(b));
    let r = frames
        .iter()
        .position(|f| f[2] == b'R' && locate(f) == 1)
        .unwrap();
    let dir_msg = frames.remove(r);
    let a = frames
        .iter()
        .position(|f| f[2] == b'A' && locate(f) == 1)
        .unwrap();
    let t = ts(&frames[a]);
    let later = a + frames[a..].iter().position(|f| ts(f) > t).unwrap();
    frames.insert(later + 1, dir_msg);
    std::fs::write(dir.join(output), frames.concat()).unwrap();
    t
}

/// README (`bbo`): lines "from the first message on (even before the symbol's directory
/// message)"; `book` prints "the book of one instrument at an event time". With AAPL's
/// directory entry after its first order, `bbo` shows that order at its time, while
/// `book --at` that time refuses with "has no book (no stock directory or orders before that
/// time)": there is an order before that time.
#[test]
fn book_before_the_directory_message_shows_the_orders_bbo_shows() {
    let dir = tempfile::tempdir().unwrap();
    gen(dir.path(), "3000", "4", "day.itch");
    let t = directory_after_first_add(dir.path(), "day.itch", "late.itch");
    let bbo = ok(&["bbo", "late.itch", "--symbol", "AAPL"], dir.path());
    let bbo = String::from_utf8_lossy(&bbo.stdout).to_string();
    let first = bbo.lines().nth(1).unwrap();
    assert!(first.starts_with(&format!("{t},")), "{first}");
    let o = ticklane(
        &[
            "book",
            "late.itch",
            "--symbol",
            "AAPL",
            "--at",
            &t.to_string(),
            "--json",
        ],
        dir.path(),
    );
    assert!(
        o.status.success(),
        "bbo's first line is `{first}`, but book --at {t}: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["orders"], 1, "{v}");
}

/// README: "Ctrl-C engages the kill switch, stops, and writes the reports to `--out`". A
/// Ctrl-C while the source is being built (the embedded session is generated in memory
/// first, seconds in a debug build) killed the process by the signal, with no summary and no
/// report directory: the handler was installed only once the engine ran. It is installed
/// first thing now (the 1 s leaves the process time to start on a loaded machine; a later
/// Ctrl-C, once the engine runs, must end the same way).
#[cfg(unix)]
#[test]
fn ctrl_c_during_start_up_still_stops_cleanly_and_writes_the_reports() {
    let dir = tempfile::tempdir().unwrap();
    let child = Command::new(BIN)
        .args(["paper", "--out", "rep"])
        .current_dir(dir.path())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(std::time::Duration::from_millis(1_000));
    let kill = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(kill.success());
    let o = child.wait_with_output().unwrap();
    assert_eq!(
        o.status.code(),
        Some(0),
        "status {:?}; stdout {:?}; stderr {:?}",
        o.status,
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    assert!(dir.path().join("rep/summary.json").exists());
}

/// `replay --symbols` without `--to` says "source ended before --to": there was no `--to`.
#[test]
fn a_replay_without_to_does_not_talk_of_to() {
    let dir = tempfile::tempdir().unwrap();
    gen(dir.path(), "3000", "4", "day.itch");
    let o = ok(&["replay", "day.itch", "--symbols", "AAPL"], dir.path());
    let out = String::from_utf8_lossy(&o.stdout).to_string();
    let window: Vec<&str> = out.lines().filter(|l| l.starts_with("window")).collect();
    assert!(
        window.iter().all(|l| !l.contains("--to")),
        "no --to was given: {window:?}"
    );
}

/// The mirror of `a_replay_without_to_does_not_talk_of_to`: `replay --to` without
/// `--symbols` does not speak of `--symbols` (it said "window    0 events outside --symbols not
/// published; stopped at --to").
#[test]
fn a_replay_without_symbols_does_not_talk_of_symbols() {
    let dir = tempfile::tempdir().unwrap();
    gen(dir.path(), "3000", "4", "day.itch");
    let o = ok(&["replay", "day.itch", "--to", "09:45:00"], dir.path());
    let out = String::from_utf8_lossy(&o.stdout).to_string();
    let window: Vec<&str> = out.lines().filter(|l| l.starts_with("window")).collect();
    assert!(
        window.iter().all(|l| !l.contains("--symbols")),
        "no --symbols was given: {window:?}"
    );
}
