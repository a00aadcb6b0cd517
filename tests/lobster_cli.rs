//! `ticklane lobster-check` on LOBSTER's real sample files (shared/data/lobster): every row it
//! can check must equal LOBSTER's order book, the row accounting must add up, and a corrupted
//! order-book file must fail naming the corrupted row.
#![allow(clippy::unwrap_used)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

const DATA: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../shared/data/lobster");

const AMZN: (&str, &str) = (
    "AMZN_2012-06-21_34200000_57600000_message_1.csv",
    "AMZN_2012-06-21_34200000_57600000_orderbook_1.csv",
);
const GOOG: (&str, &str) = (
    "GOOG_2012-06-21_34200000_57600000_message_1.csv",
    "GOOG_2012-06-21_34200000_57600000_orderbook_1.csv",
);
const AAPL: (&str, &str) = (
    "AAPL_2012-06-21_34200000_57600000_message_10.head998.csv",
    "AAPL_2012-06-21_34200000_57600000_orderbook_10.head998.csv",
);

/// Paths of a pair, or `None` (with a message) when the data folder is absent.
fn pair((m, b): (&str, &str)) -> Option<(PathBuf, PathBuf)> {
    let (m, b) = (Path::new(DATA).join(m), Path::new(DATA).join(b));
    if m.is_file() && b.is_file() {
        Some((m, b))
    } else {
        println!("skipping: {} not found (shared/data absent)", m.display());
        None
    }
}

fn lobster_check(m: &Path, b: &Path, extra: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_ticklane"))
        .arg("lobster-check")
        .arg(m)
        .arg(b)
        .args(extra)
        .output()
        .unwrap()
}

/// The integer after `label` at the start of a line of `out`.
fn number(out: &str, label: &str) -> u64 {
    let line = out
        .lines()
        .find(|l| l.starts_with(label))
        .unwrap_or_else(|| panic!("no line {label:?} in:\n{out}"));
    line[label.len()..]
        .trim_start()
        .split(|c: char| !c.is_ascii_digit())
        .next()
        .unwrap()
        .parse()
        .unwrap()
}

/// Runs the check on a real pair; asserts exit 0, no differences and the row accounting.
fn passes(p: (&str, &str), rows: u64) {
    let Some((m, b)) = pair(p) else { return };
    let out = lobster_check(&m, &b, &[]);
    let text = String::from_utf8_lossy(&out.stdout);
    println!("{text}");
    assert_eq!(
        out.status.code(),
        Some(0),
        "{text}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(number(&text, "rows:"), rows);
    let checked = number(&text, "rows checked:");
    let equal = number(&text, "rows equal:");
    let unverifiable = number(&text, "rows unverifiable:");
    assert_eq!(checked, equal, "every checked row equal");
    assert_eq!(
        checked + unverifiable,
        rows,
        "checked + unverifiable == rows"
    );
    assert!(checked > rows / 2, "most rows are checkable");
    assert_eq!(number(&text, "differences:"), 0);
    assert!(text.contains("result: OK"));
    assert!(text.contains("unresolved: 0"));
}

#[test]
fn amzn_level_1_matches() {
    passes(AMZN, 57_515);
}

#[test]
fn goog_level_1_matches() {
    passes(GOOG, 49_482);
}

#[test]
fn aapl_level_10_matches() {
    passes(AAPL, 999);
}

#[test]
fn fewer_levels_compared_still_accounts_every_row() {
    let Some((m, b)) = pair(AAPL) else { return };
    let out = lobster_check(&m, &b, &["--levels", "3"]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{text}");
    assert!(text.contains("10 in the file, 3 compared"));
    assert_eq!(
        number(&text, "rows checked:") + number(&text, "rows unverifiable:"),
        999
    );
}

#[test]
fn corrupted_size_fails_and_names_the_row() {
    let Some((m, b)) = pair(AAPL) else { return };
    let book = std::fs::read_to_string(&b).unwrap();
    let mut rows: Vec<String> = book.lines().map(str::to_string).collect();
    // A row whose best ask price is the previous row's (so it is checkable, not hidden depth).
    let target = (500..rows.len())
        .find(|&i| rows[i].split(',').next() == rows[i - 1].split(',').next())
        .unwrap();
    let mut cols: Vec<String> = rows[target].split(',').map(str::to_string).collect();
    let size: u64 = cols[1].parse().unwrap();
    cols[1] = (size + 7).to_string();
    rows[target] = cols.join(",");
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("orderbook_corrupted.csv");
    std::fs::write(&bad, rows.join("\n") + "\n").unwrap();

    let out = lobster_check(&m, &bad, &[]);
    let text = String::from_utf8_lossy(&out.stdout);
    println!("{text}");
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(text.contains("result: FAIL"));
    let want = format!("row {target} (line {}) level 1 ask: expected", target + 1);
    assert!(
        text.contains(&want),
        "output does not name {want:?}:\n{text}"
    );
    assert!(text.contains(&format!("x {}, ours", size + 7)));
    assert_eq!(
        number(&text, "rows checked:") + number(&text, "rows unverifiable:"),
        999
    );
}

#[test]
fn mismatched_files_are_an_error_not_a_pass() {
    let Some((m, _)) = pair(AAPL) else { return };
    let Some((_, b)) = pair(AMZN) else { return };
    let out = lobster_check(&m, &b, &[]);
    assert_ne!(out.status.code(), Some(0));
}

fn ticklane(args: &[&std::ffi::OsStr]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_ticklane"))
        .args(args)
        .output()
        .unwrap()
}

/// `--orderbook` and `--lengths-from-type` each belong to one kind of input: given with the
/// other kind they are refused naming the flag and the file, never silently ignored, and a
/// missing message file is named (not reported as a bare "No such file").
#[test]
fn reading_flags_for_the_other_kind_of_input_are_refused_naming_flag_and_file() {
    let dir = tempfile::tempdir().unwrap();
    let messages = dir.path().join("X_message_1.csv");
    std::fs::write(
        &messages,
        "34200.004241176,1,16113575,18,5853300,1\n34200.025551204,1,16120456,18,5859100,-1\n",
    )
    .unwrap();
    let orderbook = dir.path().join("X_orderbook_1.csv");
    std::fs::write(&orderbook, "5859100,18,5853300,18\n5859100,18,5853300,18\n").unwrap();
    let binary = dir.path().join("itch.bin");
    std::fs::write(&binary, [0u8, 12, b'S', 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, b'O']).unwrap();
    let missing = dir.path().join("nope_message_1.csv");

    let stderr = |o: &Output| String::from_utf8_lossy(&o.stderr).into_owned();
    let (m, b, bin, nope) = (
        messages.as_os_str(),
        orderbook.as_os_str(),
        binary.as_os_str(),
        missing.as_os_str(),
    );
    let s = |t: &'static str| std::ffi::OsStr::new(t);

    // Sanity: the pair itself is read by `book` (so the refusals below are the flags').
    let ok = ticklane(&[s("book"), m, s("--symbol"), s("X"), s("--orderbook"), b]);
    assert_eq!(ok.status.code(), Some(0), "{}", stderr(&ok));

    for cmd in ["book", "bbo"] {
        let out = ticklane(&[s(cmd), nope, s("--symbol"), s("X"), s("--orderbook"), b]);
        assert_ne!(out.status.code(), Some(0), "{cmd}");
        assert!(
            stderr(&out).contains("nope_message_1.csv"),
            "{cmd}: {}",
            stderr(&out)
        );

        let out = ticklane(&[s(cmd), bin, s("--symbol"), s("X"), s("--orderbook"), b]);
        assert_ne!(out.status.code(), Some(0), "{cmd}");
        let err = stderr(&out);
        assert!(
            err.contains("--orderbook applies to LOBSTER message files only")
                && err.contains("itch.bin"),
            "{cmd}: {err}"
        );
    }

    let out = ticklane(&[s("inspect"), m, s("--orderbook"), b]);
    assert_ne!(out.status.code(), Some(0));
    assert!(stderr(&out).contains("--orderbook"), "{}", stderr(&out));

    let out = ticklane(&[s("inspect"), m, s("--lengths-from-type")]);
    assert_ne!(out.status.code(), Some(0));
    let err = stderr(&out);
    assert!(
        err.contains("--lengths-from-type") && err.contains("X_message_1.csv"),
        "{err}"
    );
}

/// A malformed row ends the check with exit 2, naming the file and the line (the files are
/// compared row by row, so nothing after it could be compared); it is not reported as a pass
/// or as a differing row.
#[test]
fn a_malformed_row_ends_the_check_with_exit_2_naming_the_line() {
    let dir = tempfile::tempdir().unwrap();
    let messages = dir.path().join("X_message_1.csv");
    std::fs::write(
        &messages,
        "34200.004241176,1,16113575,18,5853300,1\n\
         34200.025551204,1,16120456,18,5859100,-1\n\
         34200.201743107,1,16148681,oops,5853300,1\n",
    )
    .unwrap();
    let orderbook = dir.path().join("X_orderbook_1.csv");
    std::fs::write(
        &orderbook,
        "5859100,18,5853300,18\n5859100,18,5853300,18\n5859100,18,5853300,36\n",
    )
    .unwrap();
    let out = lobster_check(&messages, &orderbook, &[]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(
        err.contains("X_message_1.csv") && err.contains('3'),
        "{err}"
    );
    assert!(!String::from_utf8_lossy(&out.stdout).contains("result: OK"));
}

#[test]
fn damaged_rows_are_named_and_the_rest_is_read() {
    // A halt row whose indicator is not -1, 0 or 1 was dropped without a word (`inspect`:
    // errors 0, exit 0; the instrument stayed in its earlier state); a damaged first row made
    // the file "not LOBSTER" and it was read as a NASDAQ binary file (a framing error at
    // offset 0, every row lost).
    let dir = tempfile::tempdir().unwrap();
    for (name, rows, line, column, bbo_lines) in [
        (
            "ZZZ_2012-06-21_34200000_57600000_message_1.csv",
            "34200.1,1,1,100,10000,1\n34200.3,7,0,0,5,-1\n34200.4,3,1,100,10000,1\n",
            2,
            5,
            2,
        ),
        (
            "YYY_2012-06-21_34200000_57600000_message_1.csv",
            "34200.1,1,1,100,5000,2\n34200.2,1,2,100,10000,-1\n34200.4,3,2,100,10000,-1\n",
            1,
            6,
            2,
        ),
    ] {
        let p = dir.path().join(name);
        std::fs::write(&p, rows).unwrap();
        let out = ticklane(&["inspect".as_ref(), p.as_os_str(), "--json".as_ref()]);
        let text = String::from_utf8_lossy(&out.stdout);
        assert_eq!(out.status.code(), Some(1), "{name}: {text}");
        let v: serde_json::Value = serde_json::from_str(&text).unwrap();
        assert_eq!(v["messages"], 2, "{name}: the other rows are read: {text}");
        assert_eq!(v["errors"], 1, "{name}: {text}");
        let errors = v["error_list"].as_array().unwrap();
        let e = errors[0].to_string();
        assert!(
            e.contains(&format!("line {line}")) && e.contains(&format!("column {column}")),
            "{name}: the error names the row and column: {e}"
        );
        // `bbo` reads the same rows: the good ones change the book (an add, then its
        // delete), and the bad one is said, not skipped.
        let sym = name.split('_').next().unwrap();
        let out = ticklane(&[
            "bbo".as_ref(),
            p.as_os_str(),
            "--symbol".as_ref(),
            sym.as_ref(),
        ]);
        let csv = String::from_utf8_lossy(&out.stdout);
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(csv.lines().count(), 1 + bbo_lines, "{name}: {csv}{err}");
        assert!(err.contains(&format!("line {line}")), "{name}: {err}");
    }
}

/// A blank first line, or a row with a missing column among the first four, is a damaged row
/// like any other (RELIABILITY: "a file whose first rows are damaged ... the other rows read"):
/// `inspect` must read the file as LOBSTER, count the bad line and read the rest. It was
/// decoded as a NASDAQ binary file: one framing error at offset 0, every row lost.
#[test]
fn a_blank_first_line_or_a_short_early_row_keeps_the_file_lobster() {
    let dir = tempfile::tempdir().unwrap();
    for (name, rows, bad_line) in [
        (
            "QQQ_2012-06-21_34200000_57600000_message_1.csv",
            "\n34200.1,1,1,100,10000,1\n34200.2,1,2,100,10100,-1\n34200.3,3,1,100,10000,1\n",
            1,
        ),
        (
            "RRR_2012-06-21_34200000_57600000_message_1.csv",
            "34200.1,1,1,100,10000,1\n34200.2,1,2,100,10100\n34200.3,3,1,100,10000,1\n\
             34200.4,1,3,100,10000,1\n",
            2,
        ),
    ] {
        let p = dir.path().join(name);
        std::fs::write(&p, rows).unwrap();
        let out = ticklane(&["inspect".as_ref(), p.as_os_str(), "--json".as_ref()]);
        let text = String::from_utf8_lossy(&out.stdout);
        let v: serde_json::Value = serde_json::from_str(&text).unwrap();
        let want_messages = rows.lines().count() as u64 - 1;
        assert_eq!(
            (
                v["format"].as_str(),
                v["messages"].as_u64(),
                v["errors"].as_u64()
            ),
            (Some("lobster"), Some(want_messages), Some(1)),
            "{name}: {text}"
        );
        let e = v["error_list"][0].to_string();
        assert!(e.contains(&format!("line {bad_line}")), "{name}: {e}");
    }
}

/// `--max-diffs N` and "differences: R rows (first N shown)": R counts rows, N counted levels,
/// so with two differing levels per row "first 2 shown" listed one row of two. The shown
/// count must be in the unit of the total it qualifies.
#[test]
fn max_diffs_counts_rows_as_the_summary_says() {
    let dir = tempfile::tempdir().unwrap();
    let m = dir.path().join("Z_message_2.csv");
    let b = dir.path().join("Z_orderbook_2.csv");
    std::fs::write(&m, "1.0,1,1,10,100,1\n1.1,7,0,0,-1,-1\n1.2,7,0,0,1,-1\n").unwrap();
    std::fs::write(
        &b,
        "110,5,100,10,111,5,99,5\n110,6,100,11,111,5,99,5\n110,6,100,11,111,5,99,5\n",
    )
    .unwrap();
    let out = lobster_check(&m, &b, &["--max-diffs", "2"]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{text}");
    let summary = text
        .lines()
        .find(|l| l.starts_with("differences:"))
        .unwrap();
    let shown: u64 = summary
        .split("(first ")
        .nth(1)
        .unwrap()
        .split(' ')
        .next()
        .unwrap()
        .parse()
        .unwrap();
    let rows_listed: std::collections::BTreeSet<&str> = text
        .lines()
        .filter(|l| l.starts_with("  row "))
        .map(|l| l.split(" level").next().unwrap())
        .collect();
    assert_eq!(
        (
            number(&text, "differences:"),
            shown,
            rows_listed.len() as u64
        ),
        (2, 2, 2),
        "{text}"
    );
}
