//! The CLI end to end on the real NASDAQ data in `../shared/data` (skipped with a message when
//! the folder is absent): `inspect`, `bbo` and `book` agree between the binary file and its
//! MoldUDP64 pcap, the BBO stream equals the golden produced by independent implementations
//! (`tests/crosscheck/`, itch-book / meatpy / itchcpp), and the damaged file gives the
//! documented error by default and counted anomalies with `--lengths-from-type`.

#![allow(clippy::unwrap_used)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

mod independent_decode;

const BIN: &str = env!("CARGO_BIN_EXE_ticklane");

fn data(rel: &str) -> Option<PathBuf> {
    let p = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../shared/data")
        .join(rel);
    if p.exists() {
        Some(p)
    } else {
        eprintln!("skipping: {} is absent", p.display());
        None
    }
}

fn run(args: &[&str]) -> Output {
    Command::new(BIN).args(args).output().unwrap()
}

fn stdout(o: &Output) -> String {
    String::from_utf8(o.stdout.clone()).unwrap()
}

const AAPL_ITCH: &str = "itch/nasdaq_20200130_aapl_first10k.itch50";
const AAPL_PCAP: &str = "pcap/nasdaq_20200130_aapl_first10k_moldudp64.pcap";
const ZERO_PREFIX: &str = "itch/ritch_ex20101224_zero_prefix.itch50";

#[test]
fn inspect_json_counts_the_real_file_and_its_pcap_alike() {
    let (Some(itch), Some(pcap)) = (data(AAPL_ITCH), data(AAPL_PCAP)) else {
        return;
    };
    let mut seen = Vec::new();
    for f in [&itch, &pcap] {
        let o = run(&["inspect", "--json", f.to_str().unwrap()]);
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        let v: serde_json::Value = serde_json::from_str(&stdout(&o)).unwrap();
        assert_eq!(v["messages"], 10_000);
        assert_eq!(v["errors"], 0);
        let t = &v["by_type"];
        for (ty, n) in [
            ("A", 4758),
            ("D", 4083),
            ("E", 849),
            ("P", 240),
            ("L", 52),
            ("U", 7),
            ("X", 6),
            ("F", 2),
            ("R", 1),
            ("H", 1),
            ("Y", 1),
        ] {
            assert_eq!(t[ty], n, "type {ty} in {}", f.display());
        }
        assert_eq!(v["instrument_list"][0]["symbol"], "AAPL");
        assert_eq!(v["first_timestamp"], "03:07:14.909934345");
        seen.push((v["by_type"].clone(), v["last_timestamp_ns"].clone()));
    }
    assert_eq!(seen[0], seen[1]);
}

#[test]
fn bbo_of_file_and_pcap_equal_the_independent_golden() {
    let (Some(itch), Some(pcap)) = (data(AAPL_ITCH), data(AAPL_PCAP)) else {
        return;
    };
    let golden = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/golden/aapl_first10k_bbo.csv"),
    )
    .unwrap();
    assert_eq!(golden.lines().count(), 2_793, "header + 2,792 changes");
    for f in [&itch, &pcap] {
        let o = run(&["bbo", f.to_str().unwrap(), "--symbol", "AAPL", "--csv"]);
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        let ours = stdout(&o);
        if ours != golden {
            let first = ours
                .lines()
                .zip(golden.lines())
                .position(|(a, b)| a != b)
                .unwrap_or(0);
            panic!(
                "{}: BBO differs from the golden at line {first}: ours {:?}, golden {:?}",
                f.display(),
                ours.lines().nth(first),
                golden.lines().nth(first)
            );
        }
    }
}

#[test]
fn book_matches_the_independent_final_book() {
    let Some(itch) = data(AAPL_ITCH) else { return };
    let golden: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(
            Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("tests/golden/aapl_first10k_final_book.json"),
        )
        .unwrap(),
    )
    .unwrap();
    let o = run(&[
        "book",
        itch.to_str().unwrap(),
        "--symbol",
        "AAPL",
        "--depth",
        "5",
        "--json",
    ]);
    assert!(o.status.success());
    let ours: serde_json::Value = serde_json::from_str(&stdout(&o)).unwrap();
    assert_eq!(ours["orders"], 215);
    assert_eq!(ours["bid_levels"], 79);
    assert_eq!(ours["ask_levels"], 63);
    assert_eq!(ours["crossed"], false);
    assert_eq!(ours["anomalies"], serde_json::json!({}));
    // Our top five levels per side, as [price in 1/10000, shares, orders], against the
    // independent book's (itch-book, equal to meatpy's).
    let top = |v: &serde_json::Value| -> serde_json::Value {
        v.as_array()
            .unwrap()
            .iter()
            .take(5)
            .map(|l| {
                let px: ticklane_core::Price = l["price"].as_str().unwrap().parse().unwrap();
                serde_json::json!([px.0, l["qty"], l["orders"]])
            })
            .collect()
    };
    assert_eq!(top(&ours["bids"]), golden["bids"]);
    assert_eq!(top(&ours["asks"]), golden["asks"]);
    assert_eq!(golden["bids"][0], serde_json::json!([3_201_400, 25, 1]));
}

#[test]
fn book_at_a_time_is_the_book_then() {
    let Some(itch) = data(AAPL_ITCH) else { return };
    // The first BBO line of the golden is at 14400667465235 ns: an ask of 300 at 322.40 only.
    let o = run(&[
        "book",
        itch.to_str().unwrap(),
        "--symbol",
        "AAPL",
        "--at",
        "14400667465235",
        "--json",
    ]);
    assert!(o.status.success());
    let v: serde_json::Value = serde_json::from_str(&stdout(&o)).unwrap();
    assert_eq!(v["bids"], serde_json::json!([]));
    assert_eq!(v["asks"][0]["price"], "322.4000");
    assert_eq!(v["asks"][0]["qty"], 300);
    assert_eq!(v["at"], "04:00:00.667465235");
}

#[test]
fn zero_prefix_file_errors_by_default_and_counts_anomalies_on_request() {
    let Some(f) = data(ZERO_PREFIX) else { return };
    let o = run(&["inspect", f.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(1));
    let text = stdout(&o);
    assert!(
        text.contains("at 0 (framing): zero length prefix at offset 0"),
        "{text}"
    );
    assert!(text.contains("--lengths-from-type"), "{text}");

    let o = run(&[
        "inspect",
        "--json",
        "--lengths-from-type",
        f.to_str().unwrap(),
    ]);
    assert!(o.status.success());
    let v: serde_json::Value = serde_json::from_str(&stdout(&o)).unwrap();
    assert_eq!(v["messages"], 12_012);
    assert_eq!(v["errors"], 0);

    let o = run(&[
        "book",
        "--lengths-from-type",
        f.to_str().unwrap(),
        "--symbol",
        "BOB",
        "--json",
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let v: serde_json::Value = serde_json::from_str(&stdout(&o)).unwrap();
    let unknown = |a: &serde_json::Value| -> u64 {
        [
            "unknown_order_executed",
            "unknown_order_cancelled",
            "unknown_order_deleted",
            "unknown_order_replaced",
        ]
        .iter()
        .map(|k| a[k].as_u64().unwrap_or(0))
        .sum()
    };
    // BOB's own (a run keeping only BOB's book counts the same), and the whole file's.
    let (a, feed) = (&v["anomalies"], &v["feed_anomalies"]);
    assert_eq!(unknown(a), 41, "{a}");
    assert_eq!(unknown(feed), 117, "{feed}");
    assert_eq!(
        a["zero_order_id"], 1,
        "the add with reference 0 (stock BOB): {a}"
    );
    assert!(a["crossed_book"].as_u64().unwrap() >= 1, "{a}");
    assert_eq!(v["crossed"], true);
}

/// `book --symbol X` prints the anomalies of X's book: on the damaged real-derived file, ALC's
/// are those a run keeping only ALC's book counts (1 unknown execute, 19 unknown deletes,
/// 1 unknown replace, 1 crossed book), not the whole file's (the reference-0 add is BOB's, the
/// 54 unknown deletes of CHAR are CHAR's), which `feed_anomalies` gives. It printed the whole
/// file's as each symbol's.
#[test]
fn book_of_one_symbol_counts_only_that_symbols_anomalies() {
    let Some(f) = data(ZERO_PREFIX) else { return };
    let o = run(&[
        "book",
        "--lengths-from-type",
        f.to_str().unwrap(),
        "--symbol",
        "ALC",
        "--json",
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let v: serde_json::Value = serde_json::from_str(&stdout(&o)).unwrap();
    assert_eq!(
        v["anomalies"],
        serde_json::json!({
            "crossed_book": 1,
            "unknown_order_deleted": 19,
            "unknown_order_executed": 1,
            "unknown_order_replaced": 1,
        }),
        "book --symbol ALC"
    );
    assert_eq!(v["feed_anomalies"]["unknown_order_deleted"], 94, "{v}");
}

#[test]
fn unknown_symbol_and_bad_time_are_clear_errors() {
    let Some(itch) = data(AAPL_ITCH) else { return };
    let o = run(&["bbo", itch.to_str().unwrap(), "--symbol", "MSFT"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("\"MSFT\" not found"));
    let o = run(&[
        "book",
        itch.to_str().unwrap(),
        "--symbol",
        "AAPL",
        "--at",
        "9:99",
    ]);
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("--at"));
    // A book of no levels is refused by name, not printed empty.
    let o = run(&[
        "book",
        itch.to_str().unwrap(),
        "--symbol",
        "AAPL",
        "--depth",
        "0",
    ]);
    assert_eq!(o.status.code(), Some(2));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("--depth") && err.contains("0"), "{err}");
    // A LOBSTER file replayed with its order book holds one instrument: another symbol is an error.
    let (Some(m), Some(b)) = (
        data("lobster/AMZN_2012-06-21_34200000_57600000_message_1.csv"),
        data("lobster/AMZN_2012-06-21_34200000_57600000_orderbook_1.csv"),
    ) else {
        return;
    };
    let o = run(&[
        "bbo",
        m.to_str().unwrap(),
        "--symbol",
        "GOOG",
        "--orderbook",
        b.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("\"GOOG\" is not the instrument"));
    // Nothing on stdout: not even the CSV header (a reader would take it for an empty BBO).
    assert!(
        o.stdout.is_empty(),
        "{}",
        String::from_utf8_lossy(&o.stdout)
    );
    // Its book says how many rows it was built from.
    let o = run(&[
        "book",
        m.to_str().unwrap(),
        "--symbol",
        "AMZN",
        "--orderbook",
        b.to_str().unwrap(),
        "--json",
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let rows = std::fs::read_to_string(&m).unwrap().lines().count();
    assert_eq!(v["messages"], rows, "{v}");
}

/// The BBO stream LOBSTER's own order-book file implies: the first level of every row, printed
/// when it differs from the last line printed, timed by the message row.
fn lobster_bbo_from_files(messages: &Path, orderbook: &Path) -> String {
    let msgs = std::fs::read_to_string(messages).unwrap();
    let book = std::fs::read_to_string(orderbook).unwrap();
    let mut out = String::from("timestamp_ns,bid_px,bid_qty,ask_px,ask_qty\n");
    let mut last = String::new();
    for (m, b) in msgs.lines().zip(book.lines()) {
        let time = m.split(',').next().unwrap();
        // Seconds after midnight with up to 9 decimals, exactly.
        let (secs, frac) = time.split_once('.').unwrap_or((time, ""));
        let ns: u64 = secs.parse::<u64>().unwrap() * 1_000_000_000
            + format!("{frac:0<9}").parse::<u64>().unwrap();
        let f: Vec<i64> = b.split(',').take(4).map(|x| x.parse().unwrap()).collect();
        let side = |px: i64, qty: i64, empty: i64| {
            if px == empty {
                ",".to_string()
            } else {
                format!("{},{qty}", ticklane_core::Price(px))
            }
        };
        let line = format!(
            "{},{}",
            side(f[2], f[3], -9_999_999_999),
            side(f[0], f[1], 9_999_999_999)
        );
        if line != last {
            out.push_str(&format!("{ns},{line}\n"));
            last = line;
        }
    }
    out
}

#[test]
fn lobster_bbo_with_its_orderbook_equals_the_file_and_inspect_reads_it() {
    for (sym, stem) in [
        ("AMZN", "AMZN_2012-06-21_34200000_57600000_%_1.csv"),
        ("GOOG", "GOOG_2012-06-21_34200000_57600000_%_1.csv"),
        ("AAPL", "AAPL_2012-06-21_34200000_57600000_%_10.head998.csv"),
    ] {
        let (Some(m), Some(b)) = (
            data(&format!("lobster/{}", stem.replace('%', "message"))),
            data(&format!("lobster/{}", stem.replace('%', "orderbook"))),
        ) else {
            return;
        };
        let o = run(&[
            "bbo",
            m.to_str().unwrap(),
            "--symbol",
            sym,
            "--orderbook",
            b.to_str().unwrap(),
        ]);
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        let ours = stdout(&o);
        let expected = lobster_bbo_from_files(&m, &b);
        if ours != expected {
            let i = ours
                .lines()
                .zip(expected.lines())
                .position(|(a, b)| a != b)
                .unwrap_or(0);
            panic!(
                "{sym}: line {i}: ours {:?}, file {:?}",
                ours.lines().nth(i),
                expected.lines().nth(i)
            );
        }
        let o = run(&["inspect", "--json", m.to_str().unwrap()]);
        let v: serde_json::Value = serde_json::from_str(&stdout(&o)).unwrap();
        assert_eq!(v["format"], "lobster");
        assert_eq!(v["errors"], 0);
        assert_eq!(v["instrument_list"][0]["symbol"], sym);
        let rows = std::fs::read_to_string(&m).unwrap().lines().count() as u64;
        assert_eq!(v["messages"], rows);
    }
}

fn replay_json(source: &Path) -> serde_json::Value {
    let o = run(&["replay", source.to_str().unwrap(), "--json"]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    serde_json::from_slice(&o.stdout).unwrap()
}

#[test]
fn replay_of_the_real_file_its_pcap_and_their_capture_give_one_digest_and_trade() {
    let (Some(itch), Some(pcap)) = (data(AAPL_ITCH), data(AAPL_PCAP)) else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let cap = dir.path().join("aapl.cap");
    let o = run(&[
        "record",
        pcap.to_str().unwrap(),
        "-o",
        cap.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let from_file = replay_json(&itch);
    assert_eq!(from_file["messages"], 10_000);
    // The AAPL strategy of the default configuration trades on the real data.
    let imb = from_file["strategies"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["name"] == "imb-aapl")
        .unwrap();
    assert!(imb["events"].as_u64().unwrap() > 9_000, "{imb}");
    assert!(imb["commands"].as_u64().unwrap() > 10, "{imb}");
    assert!(imb["fills"].as_u64().unwrap() > 0, "{imb}");
    for other in [replay_json(&pcap), replay_json(&cap)] {
        assert_eq!(other["digest"], from_file["digest"]);
    }
}

#[test]
fn strategies_run_on_lobster_data() {
    let Some(amzn) = data("lobster/AMZN_2012-06-21_34200000_57600000_message_1.csv") else {
        return;
    };
    let v = replay_json(&amzn);
    assert_eq!(v["messages"], 57_515);
    let mm = v["strategies"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["name"] == "mm-amzn")
        .unwrap();
    // The file's ticker names the instrument: the AMZN market maker quotes and gets filled.
    assert!(mm["events"].as_u64().unwrap() > 50_000, "{mm}");
    assert!(mm["commands"].as_u64().unwrap() > 10, "{mm}");
    assert!(mm["fills"].as_u64().unwrap() > 0, "{mm}");
    assert_eq!(replay_json(&amzn)["digest"], v["digest"]);
}

/// The real file's decode against itchfeed's (`tests/golden/aapl_first10k_decode.json`, the
/// first 5 messages of each type and the counts): the golden was committed but no test read it.
#[test]
fn the_real_files_decode_equals_the_independent_decode() {
    let Some(itch) = data(AAPL_ITCH) else { return };
    let golden: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(
            Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/golden/aapl_first10k_decode.json"),
        )
        .unwrap(),
    )
    .unwrap();
    let bytes = std::fs::read(itch).unwrap();
    let diff =
        independent_decode::compare_first_per_type(&independent_decode::frames(&bytes), &golden, 5);
    assert!(diff.is_empty(), "{}", diff.join("\n"));
    assert_eq!(golden["messages"], 10_000);
}
