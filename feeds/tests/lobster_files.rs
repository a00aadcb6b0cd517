//! The LOBSTER parser on LOBSTER's real sample files (shared/data/lobster): every row parses,
//! every message maps to an event, times never go backwards, and the parser's throughput.
#![allow(clippy::unwrap_used)]

use std::path::Path;
use std::time::Instant;

use ticklane_core::InstrumentId;
use ticklane_feeds::lobster::{is_lobster_message_file, BookReader, EventMapper, MessageReader};

const DATA: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../shared/data/lobster");

const PAIRS: [(&str, &str, usize, u64); 3] = [
    (
        "AMZN_2012-06-21_34200000_57600000_message_1.csv",
        "AMZN_2012-06-21_34200000_57600000_orderbook_1.csv",
        1,
        57_515,
    ),
    (
        "GOOG_2012-06-21_34200000_57600000_message_1.csv",
        "GOOG_2012-06-21_34200000_57600000_orderbook_1.csv",
        1,
        49_482,
    ),
    (
        "AAPL_2012-06-21_34200000_57600000_message_10.head998.csv",
        "AAPL_2012-06-21_34200000_57600000_orderbook_10.head998.csv",
        10,
        999,
    ),
];

#[test]
fn real_files_parse_completely() {
    for (m, b, levels, rows) in PAIRS {
        let (m, b) = (Path::new(DATA).join(m), Path::new(DATA).join(b));
        if !m.is_file() || !b.is_file() {
            println!("skipping: {} not found (shared/data absent)", m.display());
            return;
        }
        let head = std::fs::read(&m).unwrap();
        assert!(is_lobster_message_file(&head[..head.len().min(512)]));
        assert!(!is_lobster_message_file(&std::fs::read(&b).unwrap()[..64]));

        let mut mapper = EventMapper::new();
        let mut n = 0u64;
        let mut last = 0u64;
        for msg in MessageReader::open(&m).unwrap() {
            let msg = msg.unwrap();
            assert!(msg.time.0 >= last, "time goes backwards at row {n}");
            assert!((34_200..=57_600).contains(&(msg.time.0 / 1_000_000_000)));
            last = msg.time.0;
            let ev = mapper.to_event(&msg, InstrumentId(1)).unwrap();
            assert_eq!(ev.ts, msg.time);
            n += 1;
        }
        assert_eq!(n, rows);

        let mut book = BookReader::open(&b).unwrap();
        let mut n = 0u64;
        while let Some(row) = book.next_row().unwrap() {
            assert_eq!(row.level_count(), levels);
            n += 1;
        }
        assert_eq!(n, rows);
        assert_eq!(book.levels(), Some(levels));
    }
}

/// Parser throughput over the AMZN message file held in memory (no disk I/O). Meaningful in
/// release mode: `cargo test --release -p ticklane-feeds --test lobster_files -- --nocapture`.
#[test]
#[allow(clippy::disallowed_methods)] // A throughput measurement: wall-clock timing is its purpose.
fn parser_throughput() {
    let path = Path::new(DATA).join(PAIRS[0].0);
    let Ok(bytes) = std::fs::read(&path) else {
        println!(
            "skipping: {} not found (shared/data absent)",
            path.display()
        );
        return;
    };
    let passes = if cfg!(debug_assertions) { 1 } else { 20 };
    let mut best = f64::INFINITY;
    let mut rows = 0u64;
    for _ in 0..passes {
        let t = Instant::now();
        let mut n = 0u64;
        let mut sum = 0u64;
        for msg in MessageReader::new(&bytes[..]) {
            let msg = msg.unwrap();
            sum = sum.wrapping_add(msg.time.0 ^ u64::from(msg.size));
            n += 1;
        }
        std::hint::black_box(sum);
        best = best.min(t.elapsed().as_secs_f64());
        rows = n;
    }
    println!(
        "lobster message parser: {rows} rows, best of {passes}: {:.2} ms, {:.1} M rows/s, {:.0} MB/s",
        best * 1e3,
        rows as f64 / best / 1e6,
        bytes.len() as f64 / best / 1e6
    );
}

/// A directory given as a LOBSTER file opens (on Unix) but fails every read (EISDIR): the
/// readers report the error once and end, where they used to read again forever.
#[cfg(unix)]
#[test]
fn directory_as_a_file_reports_one_read_error_and_ends() {
    use ticklane_feeds::lobster::LobsterError;
    let dir = tempfile::tempdir().unwrap();
    let got: Vec<_> = MessageReader::open(dir.path()).unwrap().take(5).collect();
    assert_eq!(got.len(), 1, "{got:?}");
    assert!(matches!(got[0], Err(LobsterError::Io { line: 1, .. })));
    let mut book = BookReader::open(dir.path()).unwrap();
    assert!(matches!(
        book.next_row(),
        Err(LobsterError::Io { line: 1, .. })
    ));
    for _ in 0..4 {
        assert!(book.next_row().unwrap().is_none());
    }
}
