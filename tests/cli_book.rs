//! `book` and `bbo` on small hand-made inputs: what `--at` counts, errors met before a symbol's
//! directory message, a loss of unknown size, a symbol that moves to another locate, and a
//! symbol that cannot be one.

#![allow(clippy::unwrap_used)]

use std::path::Path;
use std::process::{Command, Output};

use ticklane_feeds::itch::{encode_framed, AddOrder, OrderDelete, OrderReplace, StockDirectory};

const BIN: &str = env!("CARGO_BIN_EXE_ticklane");

fn run(args: &[&str]) -> Output {
    Command::new(BIN).args(args).output().unwrap()
}

fn sym(s: &str) -> [u8; 8] {
    let mut b = [b' '; 8];
    b[..s.len()].copy_from_slice(s.as_bytes());
    b
}

fn directory(locate: u16, ts: u64, s: &str) -> StockDirectory {
    StockDirectory::new(
        locate,
        0,
        ts,
        sym(s),
        b'Q',
        b'N',
        100,
        b'N',
        b'C',
        *b"Z ",
        b'P',
        b'N',
        b'N',
        b'1',
        b'N',
        0,
        b'N',
    )
}

fn add(locate: u16, ts: u64, id: u64, side: u8, qty: u32, px: u32) -> AddOrder {
    AddOrder::new(locate, 0, ts, id, side, qty, sym("X"), px)
}

fn write(dir: &Path, name: &str, buf: &[u8]) -> String {
    let p = dir.join(name);
    std::fs::write(&p, buf).unwrap();
    p.to_str().unwrap().to_string()
}

fn json(o: &Output) -> serde_json::Value {
    serde_json::from_slice(&o.stdout).unwrap_or_else(|e| {
        panic!("{e}: {}", String::from_utf8_lossy(&o.stderr));
    })
}

/// `messages` is what the book was built from (the LOBSTER path says so: the rows at or before
/// `--at`); the message that ends the read, the first one past `--at`, is not in the book.
#[test]
fn book_at_a_time_counts_only_the_messages_the_book_was_built_from() {
    let d = tempfile::tempdir().unwrap();
    let mut buf = Vec::new();
    encode_framed(&directory(1, 1, "AAPL"), &mut buf);
    encode_framed(&add(1, 10, 1, b'B', 100, 100_000), &mut buf);
    encode_framed(&add(1, 20, 5, b'S', 200, 100_100), &mut buf);
    encode_framed(&OrderReplace::new(1, 0, 30, 1, 9, 100, 100_000), &mut buf);
    encode_framed(&OrderDelete::new(1, 0, 40, 5), &mut buf);
    let f = write(d.path(), "day.itch", &buf);
    let all = json(&run(&["book", &f, "--symbol", "AAPL", "--json"]));
    assert_eq!(all["messages"], 5, "{all}");
    // At 20: the directory and the two adds (the replace at 30 is not applied).
    let at = json(&run(&[
        "book", &f, "--symbol", "AAPL", "--json", "--at", "20",
    ]));
    assert_eq!(at["orders"], 2, "{at}");
    assert_eq!(at["messages"], 3, "{at}");
}

/// `bbo` looks for the symbol in a first pass; when that pass met read errors (here a zero
/// length prefix that ends the read before the directory message), they are the cause and
/// must be said, as `book` says them, not only "symbol not found".
#[test]
fn bbo_of_a_symbol_behind_a_read_error_reports_the_error() {
    let d = tempfile::tempdir().unwrap();
    let mut buf = Vec::new();
    encode_framed(&add(1, 10, 1, b'B', 100, 100_000), &mut buf);
    buf.extend_from_slice(&[0, 0, 0, 0]);
    encode_framed(&directory(1, 11, "AAPL"), &mut buf);
    let f = write(d.path(), "cut.itch", &buf);
    let book = run(&["book", &f, "--symbol", "AAPL"]);
    let book_err = String::from_utf8_lossy(&book.stderr);
    assert!(book_err.contains("(framing)"), "{book_err}");
    let bbo = run(&["bbo", &f, "--symbol", "AAPL"]);
    let bbo_err = String::from_utf8_lossy(&bbo.stderr);
    assert!(bbo_err.contains("(framing)"), "bbo stderr: {bbo_err}");
}

/// A corrupt block in a capture of a binary file is a loss whose size nobody knows
/// (`FeedGap` count 0): `book` and `bbo` must not say that 0 messages were lost.
#[test]
fn a_loss_of_unknown_size_is_not_reported_as_zero_messages_lost() {
    use ticklane_replay::{CaptureReader, CaptureWriter, WriterOptions};
    let d = tempfile::tempdir().unwrap();
    let p = |name: &str| d.path().join(name).to_str().unwrap().to_string();
    let ok = |args: &[&str]| assert!(run(args).status.success(), "{args:?}");
    ok(&[
        "gen",
        "--seed",
        "3",
        "--messages",
        "50000",
        "-o",
        &p("b.itch"),
    ]);
    ok(&["record", &p("b.itch"), "-o", &p("b.tlcap")]);
    let reader = CaptureReader::open(p("b.tlcap")).unwrap();
    let options = WriterOptions {
        block_bytes: 16 << 10,
        ..WriterOptions::default()
    };
    let mut w = CaptureWriter::create(p("bad.tlcap"), &reader.header().clone(), options).unwrap();
    for rec in reader {
        let rec = rec.unwrap();
        w.write_record(rec.ts_ns, rec.line, &rec.bytes).unwrap();
    }
    w.finish().unwrap();
    let mut bytes = std::fs::read(p("bad.tlcap")).unwrap();
    let mid = bytes.len() / 2;
    bytes[mid] ^= 0x40;
    std::fs::write(p("bad.tlcap"), bytes).unwrap();

    let f = p("bad.tlcap");
    let table = run(&["book", &f, "--symbol", "AAPL", "--depth", "1"]);
    let table = String::from_utf8_lossy(&table.stdout);
    assert!(table.contains("STALE since"), "{table}");
    assert!(!table.contains("(0 messages lost"), "book: {table}");
    let bbo = run(&["bbo", &f, "--symbol", "AAPL"]);
    let err = String::from_utf8_lossy(&bbo.stderr);
    assert!(err.contains("stale:"), "{err}");
    assert!(!err.contains("lost 0 messages"), "bbo: {err}");
}

/// Locate 1 is AAPL, then renamed AAPLX while locate 2 becomes AAPL. `book --symbol AAPL`
/// shows locate 2; `bbo --symbol AAPL` must end on that same top of book, not on locate 1's
/// (AAPLX's) order added after the rename.
#[test]
fn bbo_and_book_agree_on_a_symbol_that_moved_to_another_locate() {
    let d = tempfile::tempdir().unwrap();
    let mut buf = Vec::new();
    encode_framed(&directory(1, 1, "AAPL"), &mut buf);
    encode_framed(&add(1, 10, 1, b'B', 100, 100_000), &mut buf);
    encode_framed(&directory(1, 15, "AAPLX"), &mut buf);
    encode_framed(&directory(2, 16, "AAPL"), &mut buf);
    encode_framed(&add(2, 20, 5, b'S', 200, 200_100), &mut buf);
    encode_framed(&add(1, 30, 9, b'B', 100, 100_000), &mut buf);
    let f = write(d.path(), "moved.itch", &buf);
    let book = json(&run(&["book", &f, "--symbol", "AAPL", "--json"]));
    assert_eq!(book["instrument"], 2, "{book}");
    let top = |v: &serde_json::Value| match v.as_array().unwrap().first() {
        Some(l) => format!("{},{}", l["price"].as_str().unwrap(), l["qty"]),
        None => ",".to_string(),
    };
    let want = format!("{},{}", top(&book["bids"]), top(&book["asks"]));
    let bbo = run(&["bbo", &f, "--symbol", "AAPL"]);
    let out = String::from_utf8(bbo.stdout).unwrap();
    let last = out.lines().last().unwrap();
    let (_, fields) = last.split_once(',').unwrap();
    assert_eq!(fields, want, "bbo:\n{out}");
}

/// A symbol longer than 8 characters cannot name an instrument: `book` says so, as `bbo`
/// does, instead of "has no book (no stock directory or orders before that time)".
#[test]
fn book_refuses_a_symbol_that_cannot_be_one_by_its_rule() {
    let d = tempfile::tempdir().unwrap();
    let mut buf = Vec::new();
    encode_framed(&directory(1, 1, "AAPL"), &mut buf);
    let f = write(d.path(), "one.itch", &buf);
    let bbo = run(&["bbo", &f, "--symbol", "AAPLAAPLAAPL"]);
    assert!(String::from_utf8_lossy(&bbo.stderr).contains("at most 8"));
    let book = run(&["book", &f, "--symbol", "AAPLAAPLAAPL"]);
    let err = String::from_utf8_lossy(&book.stderr);
    assert!(err.contains("at most 8"), "book: {err}");
}

/// A locate that another symbol takes over (AAPL's locate 1 becomes BBB, and
/// AAPL is in no directory any more) is not AAPL's: `bbo --symbol AAPL` must not print BBB's
/// quotes as AAPL's lines (`book --symbol AAPL` no longer finds AAPL at all).
#[test]
fn bbo_does_not_follow_a_locate_another_symbol_took() {
    let d = tempfile::tempdir().unwrap();
    let mut buf = Vec::new();
    encode_framed(&directory(1, 1, "AAPL"), &mut buf);
    encode_framed(&add(1, 10, 1, b'B', 100, 100_000), &mut buf);
    encode_framed(&directory(1, 15, "BBB"), &mut buf);
    encode_framed(&add(1, 30, 9, b'S', 300, 300_000), &mut buf);
    let f = write(d.path(), "taken.itch", &buf);
    let book = run(&["book", &f, "--symbol", "AAPL", "--json"]);
    eprintln!(
        "book: rc={:?} out={} err={}",
        book.status.code(),
        String::from_utf8_lossy(&book.stdout),
        String::from_utf8_lossy(&book.stderr)
    );
    let bbo = run(&["bbo", &f, "--symbol", "AAPL"]);
    let out = String::from_utf8(bbo.stdout).unwrap();
    assert!(
        !out.contains("30.0000") && !out.contains("300"),
        "bbo printed BBB's ask (locate 1 after the rename) as AAPL's:\n{out}"
    );
    // AAPL's line, then both sides empty once BBB took its locate, and nothing after.
    let lines: Vec<&str> = out.lines().skip(1).collect();
    assert_eq!(lines, ["10,10.0000,100,,", "15,,,,"], "{out}");
}

/// AAPL moves from locate 1 (a bid on it) to locate 2 (no order yet): its
/// book is now locate 2's, empty, as `book` says; bbo must not leave the old bid as AAPL's
/// last line.
#[test]
fn bbo_of_a_symbol_moved_to_an_empty_locate_clears_its_line() {
    let d = tempfile::tempdir().unwrap();
    let mut buf = Vec::new();
    encode_framed(&directory(1, 1, "AAPL"), &mut buf);
    encode_framed(&add(1, 10, 1, b'B', 100, 100_000), &mut buf);
    encode_framed(&directory(2, 15, "AAPL"), &mut buf);
    let f = write(d.path(), "moved.itch", &buf);
    let book = run(&["book", &f, "--symbol", "AAPL", "--json"]);
    let book_out = String::from_utf8_lossy(&book.stdout).into_owned();
    let bbo = run(&["bbo", &f, "--symbol", "AAPL"]);
    let out = String::from_utf8(bbo.stdout).unwrap();
    let lines: Vec<&str> = out.lines().skip(1).collect();
    assert_eq!(
        lines,
        ["10,10.0000,100,,", "15,,,,"],
        "bbo:\n{out}\nbook --json (rc {:?}):\n{book_out}",
        book.status.code()
    );
}

// ---------------------------------------------------------------- review (bookapi)

fn csv_lines(o: &Output) -> Vec<String> {
    String::from_utf8_lossy(&o.stdout)
        .lines()
        .map(str::to_string)
        .collect()
}

/// `bbo` prints a line exactly when the top (price or size of the best bid or ask) changes,
/// with the message's timestamp in ns; depth changes, other instruments and a replace that
/// puts the same size back at the same best price print nothing.
#[test]
fn bbo_prints_exactly_the_top_changes() {
    use ticklane_feeds::itch::{OrderCancel, OrderExecuted};
    let d = tempfile::tempdir().unwrap();
    let mut buf = Vec::new();
    encode_framed(&directory(1, 1, "AAPL"), &mut buf);
    encode_framed(&directory(2, 2, "MSFT"), &mut buf);
    encode_framed(&add(1, 10, 1, b'B', 100, 100_000), &mut buf); // line: bid appears
    encode_framed(&add(1, 11, 5, b'B', 100, 99_900), &mut buf); // deeper bid: no line
    encode_framed(&add(2, 12, 9, b'S', 100, 99_000), &mut buf); // other instrument: no line
    encode_framed(&add(1, 13, 13, b'S', 300, 100_100), &mut buf); // line: ask appears
    encode_framed(&add(1, 14, 17, b'S', 50, 100_200), &mut buf); // deeper ask: no line
    encode_framed(&OrderExecuted::new(1, 0, 15, 1, 40, 1), &mut buf); // line: bid qty 60
    encode_framed(&OrderCancel::new(1, 0, 16, 5, 10), &mut buf); // deeper: no line
    encode_framed(&OrderReplace::new(1, 0, 17, 13, 21, 300, 100_100), &mut buf); // same top: no line
    encode_framed(&add(1, 18, 25, b'B', 200, 100_100), &mut buf); // line: locked book
    encode_framed(&OrderDelete::new(1, 0, 19, 25), &mut buf); // line: back
    encode_framed(&OrderDelete::new(1, 0, 20, 1), &mut buf); // line: bid 99.9
    encode_framed(&OrderDelete::new(1, 0, 21, 5), &mut buf); // line: bid empty
    encode_framed(&OrderDelete::new(1, 0, 22, 21), &mut buf); // line: ask 100.2 x 50
    encode_framed(&OrderDelete::new(1, 0, 23, 17), &mut buf); // line: all empty
    let f = write(d.path(), "top.itch", &buf);
    let out = run(&["bbo", &f, "--symbol", "AAPL"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        csv_lines(&out),
        [
            "timestamp_ns,bid_px,bid_qty,ask_px,ask_qty",
            "10,10.0000,100,,",
            "13,10.0000,100,10.0100,300",
            "15,10.0000,60,10.0100,300",
            "18,10.0100,200,10.0100,300",
            "19,10.0000,60,10.0100,300",
            "20,9.9900,90,10.0100,300",
            "21,,,10.0100,300",
            "22,,,10.0200,50",
            "23,,,,",
        ]
    );
}

/// `book` of an instrument with a directory entry and no orders; `--depth` larger than the
/// side; an unknown symbol.
#[test]
fn book_empty_instrument_short_depth_and_unknown_symbol() {
    let d = tempfile::tempdir().unwrap();
    let mut buf = Vec::new();
    encode_framed(&directory(1, 1, "AAPL"), &mut buf);
    encode_framed(&directory(2, 2, "EMPTY"), &mut buf);
    encode_framed(&add(1, 10, 1, b'B', 100, 100_000), &mut buf);
    encode_framed(&add(1, 11, 5, b'B', 100, 99_900), &mut buf);
    encode_framed(&add(1, 12, 9, b'S', 300, 100_100), &mut buf);
    let f = write(d.path(), "small.itch", &buf);
    let v = json(&run(&[
        "book", &f, "--symbol", "AAPL", "--depth", "5", "--json",
    ]));
    assert_eq!(v["bids"].as_array().unwrap().len(), 2, "{v}");
    assert_eq!(v["asks"].as_array().unwrap().len(), 1, "{v}");
    assert_eq!(
        v["bids"][1],
        serde_json::json!({"price": "9.9900", "qty": 100, "orders": 1})
    );
    assert_eq!(v["spread"], "0.0100");
    assert_eq!(v["mid"], "10.0050");
    let e = json(&run(&["book", &f, "--symbol", "EMPTY", "--json"]));
    assert_eq!(e["orders"], 0, "{e}");
    assert_eq!(
        (e["bids"].clone(), e["asks"].clone()),
        (serde_json::json!([]), serde_json::json!([]))
    );
    assert!(
        e["spread"].is_null() && e["mid"].is_null() && e["microprice"].is_null(),
        "{e}"
    );
    let t = run(&["book", &f, "--symbol", "EMPTY"]);
    assert!(t.status.success());
    let bbo = run(&["bbo", &f, "--symbol", "EMPTY"]);
    assert!(bbo.status.success());
    assert_eq!(
        csv_lines(&bbo),
        ["timestamp_ns,bid_px,bid_qty,ask_px,ask_qty"]
    );
    let u = run(&["book", &f, "--symbol", "ZZZ"]);
    assert!(!u.status.success());
    assert!(String::from_utf8_lossy(&u.stderr).contains("\"ZZZ\""));
    let u = run(&["bbo", &f, "--symbol", "ZZZ"]);
    assert!(!u.status.success());
    assert!(String::from_utf8_lossy(&u.stderr).contains("\"ZZZ\""));
    assert!(u.stdout.is_empty());
}

/// Two days in one file: AAPL bid 10.00 x 100 on day 1; day 2's start of messages empties the
/// book (`Market::new_days`), and day 2 quotes the same bid again. The emptying is a change of
/// the top: a line with both sides empty at the start of messages (as when the symbol leaves
/// its locate). None is printed, and the day-2 quote that equals day 1's last prints nothing
/// either: the output says the bid stood through the night.
#[test]
fn bbo_prints_the_emptying_of_a_new_day() {
    use ticklane_feeds::itch::SystemEvent;
    let d = tempfile::tempdir().unwrap();
    let mut buf = Vec::new();
    encode_framed(&SystemEvent::new(0, 0, 5, b'O'), &mut buf);
    encode_framed(&directory(1, 6, "AAPL"), &mut buf);
    encode_framed(&add(1, 10, 1, b'B', 100, 100_000), &mut buf);
    encode_framed(&SystemEvent::new(0, 0, 5, b'O'), &mut buf);
    encode_framed(&directory(1, 6, "AAPL"), &mut buf);
    encode_framed(&add(1, 12, 1, b'B', 100, 100_000), &mut buf);
    let f = write(d.path(), "two_days.itch", &buf);
    let out = run(&["bbo", &f, "--symbol", "AAPL"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        csv_lines(&out),
        [
            "timestamp_ns,bid_px,bid_qty,ask_px,ask_qty",
            "10,10.0000,100,,",
            "5,,,,",
            "12,10.0000,100,,",
        ]
    );
}
