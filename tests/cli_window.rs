//! `replay --from/--to/--symbols`: counts against a file cut to the
//! window, what the window line says, and a window that holds no event.

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

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn json(args: &[&str], dir: &Path) -> serde_json::Value {
    let mut a = args.to_vec();
    a.push("--json");
    let o = ticklane(&a, dir);
    assert!(o.status.success(), "{args:?}: {}", stderr(&o));
    serde_json::from_slice(&o.stdout).unwrap()
}

/// `gen --seed 7 --messages 20000` (64 instruments) into `dir/day.itch`.
fn day(dir: &Path) {
    let o = ticklane(
        &[
            "gen",
            "--seed",
            "7",
            "--messages",
            "20000",
            "-o",
            "day.itch",
        ],
        dir,
    );
    assert!(o.status.success(), "{}", stderr(&o));
}

/// The frames of a NASDAQ binary file: (timestamp, stock locate, frame bytes with prefix).
fn frames(path: &Path) -> Vec<(u64, u16, Vec<u8>)> {
    let d = std::fs::read(path).unwrap();
    let mut out = Vec::new();
    let mut o = 0;
    while o + 2 <= d.len() {
        let len = usize::from(u16::from_be_bytes([d[o], d[o + 1]]));
        let m = &d[o + 2..o + 2 + len];
        let ts = m[5..11].iter().fold(0u64, |a, &b| (a << 8) | u64::from(b));
        let locate = u16::from_be_bytes([m[1], m[2]]);
        out.push((ts, locate, d[o..o + 2 + len].to_vec()));
        o += 2 + len;
    }
    out
}

/// Writes the frames of `all` up to time `t` (the file cut after `t`) to `path`.
fn write_cut(all: &[(u64, u16, Vec<u8>)], t: u64, path: &Path) {
    let cut: Vec<u8> = all
        .iter()
        .take_while(|f| f.0 <= t)
        .flat_map(|f| f.2.clone())
        .collect();
    std::fs::write(path, cut).unwrap();
}

/// `replay --to T` plays the file cut after T: the same digest, and the same count of
/// messages. The summary's `messages` also counted the first message past T, which ended the
/// read and was never replayed (`book --at` had the same off-by-one, fixed).
#[test]
fn replay_to_counts_only_the_messages_inside_the_window() {
    let dir = tempfile::tempdir().unwrap();
    day(dir.path());
    let all = frames(&dir.path().join("day.itch"));
    // A time with a later message right after it.
    let k = all.len() / 2;
    let t = all[k].0;
    assert!(all[k + 1].0 > t);
    write_cut(&all, t, &dir.path().join("cut.itch"));
    let ts = t.to_string();
    let window = json(&["replay", "day.itch", "--to", &ts], dir.path());
    let whole = json(&["replay", "cut.itch"], dir.path());
    assert_eq!(window["digest"], whole["digest"], "the same replay");
    assert_eq!(window["events"], whole["events"]);
    assert_eq!(
        window["messages"], whole["messages"],
        "messages read inside --to {ts}: replay --to says {}, the file cut to the window {}",
        window["messages"], whole["messages"]
    );
}

/// `replay --to T` where the first message after T carries no event (an `L`, market participant
/// position): the read ends there, as at an event past T, so `messages` is the file cut at T's
/// count. It read on to the first *event* past T, counting the non-event messages between.
/// Checked for a file and for the generated source (the same session, in memory: its batched
/// path unpaced and its serial path paced), which read message times in three places.
#[test]
fn replay_to_ends_at_the_first_message_past_it_whatever_its_kind() {
    let dir = tempfile::tempdir().unwrap();
    day(dir.path());
    let all = frames(&dir.path().join("day.itch"));
    // A time whose next message is an `L`, later than it.
    let k = (0..all.len() - 1)
        .find(|&k| all[k + 1].2[2] == b'L' && all[k + 1].0 > all[k].0 && k > 100)
        .expect("the generated day has an L message after a time step");
    let t = all[k].0;
    write_cut(&all, t, &dir.path().join("cut.itch"));
    // The embedded configuration with the day's session as its generated source.
    let config =
        include_str!("../config/run.toml").replace("messages = 2_000_000", "messages = 20_000");
    assert!(config.contains("messages = 20_000") && config.contains("seed = 7"));
    std::fs::write(dir.path().join("gen.toml"), config).unwrap();
    let whole = json(&["replay", "cut.itch"], dir.path());
    let ts = t.to_string();
    let same_day = json(&["replay", "day.itch"], dir.path());
    let generated = json(&["replay", "--config", "gen.toml"], dir.path());
    assert_eq!(
        same_day["digest"], generated["digest"],
        "the generated source is the file's session"
    );
    for (what, args) in [
        ("the file", vec!["replay", "day.itch", "--to", &ts]),
        (
            "the generated source",
            vec!["replay", "--config", "gen.toml", "--to", &ts],
        ),
        (
            "the generated source, paced",
            vec![
                "replay",
                "--config",
                "gen.toml",
                "--to",
                &ts,
                "--speed",
                "rate:2000000",
            ],
        ),
    ] {
        let window = json(&args, dir.path());
        assert_eq!(window["digest"], whole["digest"], "{what}: the same replay");
        assert_eq!(
            window["messages"], whole["messages"],
            "{what}: messages read inside --to {ts} (the next message is an L)"
        );
        assert_eq!(window["reached_end_of_window"], true, "{what}");
    }
}

/// `--symbols` naming an instrument whose directory message comes after `--to`: the window
/// line says the source names it nowhere ("no directory message of the source names"), which
/// sends the user looking for a typo; the source does name it, past the window's end.
#[test]
fn a_symbol_named_after_to_is_not_reported_as_absent_from_the_source() {
    let dir = tempfile::tempdir().unwrap();
    day(dir.path());
    let all = frames(&dir.path().join("day.itch"));
    // The last directory message (`R`) of the session and the time just before it.
    let last_dir = all.iter().rev().find(|f| f.2[2] == b'R').unwrap();
    let to = (last_dir.0 - 1).to_string();
    let o = ticklane(
        &["replay", "day.itch", "--symbols", "AAPL,ZAABV", "--to", &to],
        dir.path(),
    );
    assert!(o.status.success(), "{}", stderr(&o));
    // ZAABV is the 64th instrument: its directory message is the last one.
    let out = String::from_utf8_lossy(&o.stdout);
    let line = out
        .lines()
        .find(|l| l.contains("ZAABV"))
        .unwrap_or_default()
        .to_string();
    assert!(
        !line.contains("no directory message of the source names"),
        "the source names ZAABV (at {} ns, after --to {to}), yet: {line:?}",
        last_dir.0
    );
}

/// `--from` after the source's last event (a typo: 23:00 for 13:00) is an empty replay: no
/// event reaches a strategy. It said nothing about it (no `window` line, nothing in the JSON),
/// exit 0, as `--symbols` naming nothing did before it was reported.
#[test]
fn a_from_after_the_last_event_is_reported_not_silent() {
    let dir = tempfile::tempdir().unwrap();
    day(dir.path());
    let o = ticklane(&["replay", "day.itch", "--from", "23:00:00"], dir.path());
    assert!(o.status.success(), "{}", stderr(&o));
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    assert!(
        text.contains("--from"),
        "no event at or after --from 23:00:00 (the source ends at 20:05), and the summary says \
         nothing of it:\n{text}"
    );
}

/// An instrument's event before its directory message (a real feed's late directory, a
/// splice): without `--symbols` the book misses it and the run says so (`late_books`, a
/// warning). With `--symbols` naming that instrument the same event is lost silently, and
/// counted among the events "outside --symbols" although its instrument is the one asked for.
#[test]
fn symbols_do_not_hide_an_event_that_came_before_its_directory_message() {
    let dir = tempfile::tempdir().unwrap();
    day(dir.path());
    let mut all = frames(&dir.path().join("day.itch"));
    // AAPL (locate 1) is named by the fourth message; its first add order goes just before
    // that, at the time of the message before it.
    let r = all.iter().position(|f| f.2[2] == b'R' && f.1 == 1).unwrap();
    let k = all.iter().position(|f| f.2[2] == b'A' && f.1 == 1).unwrap();
    let mut add = all.remove(k);
    let ts = all[r - 1].0.to_be_bytes();
    add.2[7..13].copy_from_slice(&ts[2..8]);
    all.insert(r, add);
    let bytes: Vec<u8> = all.iter().flat_map(|f| f.2.clone()).collect();
    std::fs::write(dir.path().join("early.itch"), &bytes).unwrap();
    // The same file with AAPL and market-wide messages only: what `--symbols AAPL` publishes.
    let aapl: Vec<u8> = all
        .iter()
        .filter(|f| f.1 == 0 || f.1 == 1)
        .flat_map(|f| f.2.clone())
        .collect();
    std::fs::write(dir.path().join("aapl.itch"), &aapl).unwrap();
    let whole = json(&["replay", "early.itch"], dir.path());
    let filtered = json(&["replay", "early.itch", "--symbols", "AAPL"], dir.path());
    let cut = json(&["replay", "aapl.itch"], dir.path());
    let n = |v: &serde_json::Value, k: &str| v[k].as_u64().unwrap();
    // The file cut to AAPL and the whole file both report AAPL's late directory.
    assert_eq!((n(&whole, "late_books"), n(&cut, "late_books")), (1, 1));
    assert_eq!(
        (n(&filtered, "late_books"), n(&filtered, "filtered")),
        (1, n(&whole, "events") - n(&cut, "events")),
        "--symbols AAPL: (late_books, events outside --symbols); the AAPL add before AAPL's \
         directory message is lost without a word and counted as another instrument's"
    );
}

/// `gen --seed SEED --messages 20000` into `dir/NAME`.
fn gen_day(dir: &Path, seed: &str, name: &str) {
    let o = ticklane(
        &["gen", "--seed", seed, "--messages", "20000", "-o", name],
        dir,
    );
    assert!(o.status.success(), "{}", stderr(&o));
}

/// `two.itch`: the days `d1.itch` (seed 7) and `d2.itch` (seed 8) one after the other.
fn two_days(dir: &Path) {
    gen_day(dir, "7", "d1.itch");
    gen_day(dir, "8", "d2.itch");
    let mut two = std::fs::read(dir.join("d1.itch")).unwrap();
    two.extend(std::fs::read(dir.join("d2.itch")).unwrap());
    std::fs::write(dir.join("two.itch"), two).unwrap();
}

/// The rows of `dir/out/FILE`, the last column (`day`) cut off, and the days it names.
fn rows_and_days(dir: &Path, out: &str, file: &str) -> (Vec<String>, Vec<String>) {
    let text = std::fs::read_to_string(dir.join(out).join(file)).unwrap();
    let mut rows = Vec::new();
    let mut days = Vec::new();
    for line in text.lines().skip(1) {
        let (row, day) = line.rsplit_once(',').unwrap();
        rows.push(row.to_string());
        days.push(day.to_string());
    }
    (rows, days)
}

/// `replay --day N` of a file of two days is the replay of day N's own file: the same digest,
/// the same orders, fills and equity marks (on one lane and on two), numbered day N in the
/// reports' `day` columns, with the other day's events counted, not replayed.
#[test]
fn replay_of_one_day_of_two_is_the_replay_of_that_day_s_file() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    two_days(d);
    let day1_events = json(&["replay", "d1.itch"], d)["events"].as_u64().unwrap();
    for (day, alone) in [("1", "d1.itch"), ("2", "d2.itch")] {
        let own = json(&["replay", alone, "--out", "own"], d);
        for lanes in ["1", "2"] {
            let one = json(
                &[
                    "replay", "two.itch", "--day", day, "--lanes", lanes, "--out", "one",
                ],
                d,
            );
            assert_eq!(one["digest"], own["digest"], "day {day}, {lanes} lanes");
            assert_eq!(one["events"], own["events"], "day {day}");
            assert_eq!(one["first_day"], day.parse::<u64>().unwrap());
            assert_eq!(one["days"], 1);
            assert_eq!(one["missing_day"], false);
            // Day 1 ends at day 2's start; day 2 at the end of the file, day 1 read past.
            assert_eq!(one["day_ended"], day == "1", "day {day}");
            // Day 1's events, read and not replayed.
            let before = if day == "2" { day1_events } else { 0 };
            assert_eq!(one["other_days"], before, "day {day}");
            for f in ["orders.csv", "fills.csv", "equity.csv"] {
                let (own_rows, own_days) = rows_and_days(d, "own", f);
                let (rows, days) = rows_and_days(d, "one", f);
                if lanes == "1" {
                    assert_eq!(rows, own_rows, "{f}, day {day}");
                } else {
                    // Only the lane column may differ.
                    assert_eq!(rows.len(), own_rows.len(), "{f}, day {day}, 2 lanes");
                }
                assert!(own_days.iter().all(|x| x == "1"), "{f}");
                assert!(days.iter().all(|x| x == day), "{f}: {days:?}");
            }
            let (orders, _) = rows_and_days(d, "one", "orders.csv");
            assert!(!orders.is_empty(), "day {day}: no order to compare");
        }
    }
}

/// `--from`/`--to` with `--day` are times of that day: day 1's events past `--to` do not end
/// a replay of day 2, which equals day 2's own file replayed over the same window.
#[test]
fn the_window_of_a_replay_of_one_day_is_a_time_of_that_day() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    two_days(d);
    let window = ["--from", "10:00:00", "--to", "11:30:00"];
    let own = json(&[&["replay", "d2.itch"][..], &window].concat(), d);
    let one = json(
        &[&["replay", "two.itch", "--day", "2"][..], &window].concat(),
        d,
    );
    assert_eq!(one["digest"], own["digest"]);
    assert_eq!(one["events"], own["events"]);
    assert_eq!(one["reached_end_of_window"], true);
    assert_eq!(one["day_ended"], false);
    assert!(one["events"].as_u64().unwrap() > 0);
}

/// A day the source does not hold: said, exit 2 (as `book --day`); `--day 0` is refused.
#[test]
fn replay_of_a_day_the_source_does_not_hold_fails() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    two_days(d);
    let o = ticklane(&["replay", "two.itch", "--day", "3"], d);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("--day 3: the source holds 2 trading days"),
        "{}",
        stderr(&o)
    );
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(
        out.contains("no trading day 3: the source holds 2"),
        "{out}"
    );
    let o = ticklane(&["replay", "two.itch", "--day", "0"], d);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("--day"), "{}", stderr(&o));
}
