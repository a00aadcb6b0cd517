//! `replay --from/--to/--symbols`: counts against a file cut to the
//! window, what the window line says, and a window that holds no event.

#![allow(clippy::unwrap_used)]

use std::path::Path;

mod live_support;
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

/// The MoldUDP64 packets (up to 8 messages each, then an end-of-session packet) of the ITCH
/// binary file `dir/itch` under session id `session`.
fn mold_packets(dir: &Path, itch: &str, session: &[u8; 10]) -> Vec<Vec<u8>> {
    live_support::mold_packets(&std::fs::read(dir.join(itch)).unwrap(), *session)
}

/// `dir/name`: a pcap of `packets` on one line, `step_ns` of capture time apart.
fn write_pcap(dir: &Path, name: &str, packets: &[&[u8]], step_ns: u64) {
    use std::net::{Ipv4Addr, SocketAddrV4};
    use ticklane_feeds::pcap::PcapWriter;
    let src = SocketAddrV4::new(Ipv4Addr::new(10, 0, 0, 1), 4000);
    let dst = SocketAddrV4::new(Ipv4Addr::new(233, 54, 12, 1), 26_400);
    let mut w = PcapWriter::new(std::fs::File::create(dir.join(name)).unwrap()).unwrap();
    for (i, p) in packets.iter().enumerate() {
        w.write_udp(1_580_000_000_000_000_000 + i as u64 * step_ns, src, dst, p)
            .unwrap();
    }
    w.flush().unwrap();
}

/// `two_days` as MoldUDP64 packets: day 1 in session `DAY0000001`, day 2 in `DAY0000002`,
/// each ending with its end-of-session packet.
fn two_day_packets(dir: &Path) -> (Vec<Vec<u8>>, Vec<Vec<u8>>) {
    two_days(dir);
    (
        mold_packets(dir, "d1.itch", b"DAY0000001"),
        mold_packets(dir, "d2.itch", b"DAY0000002"),
    )
}

/// `packets` but the one at `hole` (lost on the line), as slices.
fn without(packets: &[Vec<u8>], hole: usize) -> Vec<&[u8]> {
    packets
        .iter()
        .enumerate()
        .filter(|(i, _)| *i != hole)
        .map(|(_, p)| &p[..])
        .collect()
}

/// `replay FILE --no-latency --json ARGS` in `dir`: its exit status, events and digest.
fn replayed(
    dir: &Path,
    file: &str,
    args: &[&str],
) -> (Option<i32>, serde_json::Value, serde_json::Value) {
    let o = ticklane(
        &[&["replay", file, "--no-latency", "--json"][..], args].concat(),
        dir,
    );
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    (o.status.code(), v["events"].clone(), v["digest"].clone())
}

/// A pcap of two days (one MoldUDP64 session each) whose day 1 lost a packet for good:
/// `replay --day 2` replays day 2 as its own pcap does (the README: "as if the source held it
/// alone"). Day 1's loss, read and not replayed, was reported as the replayed day's ("the
/// input lost 8 messages in 1 gaps for good ... the books went stale there") and exited 1.
#[test]
fn a_gap_on_a_skipped_day_is_not_the_replayed_day_s() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let (day1, day2) = two_day_packets(d);
    // Day 1 loses its 100th packet; 1 ms apart, the loss is given up on within day 1.
    let mut all = without(&day1, 100);
    all.extend(day2.iter().map(|p| &p[..]));
    write_pcap(d, "two.pcap", &all, 1_000_000);
    let alone: Vec<&[u8]> = day2.iter().map(|p| &p[..]).collect();
    write_pcap(d, "d2.pcap", &alone, 1_000_000);
    let own = json(&["replay", "d2.pcap", "--no-latency"], d);
    let o = ticklane(
        &["replay", "two.pcap", "--day", "2", "--no-latency", "--json"],
        d,
    );
    let one: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(one["digest"], own["digest"]);
    assert_eq!(one["events"], own["events"]);
    assert_eq!(
        o.status.code(),
        Some(0),
        "day 2 lost nothing, yet: {}",
        stderr(&o)
    );
}

/// A pcap of two days (one MoldUDP64 session each, 1 us apart) whose day 1 lost a packet five
/// packets before its end: the loss is given up on 50 ms of capture time later, within day 2's
/// packets. `replay --day 1` stopped at day 2's start of messages before that: day 1's loss
/// and the 4 packets held behind it vanished without a word (exit 0), where day 1's own pcap
/// reports the loss and replays them.
#[test]
fn a_replay_of_day_one_does_not_drop_its_loss_given_up_on_during_day_two() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let (day1, day2) = two_day_packets(d);
    let hole = day1.len() - 5;
    let lost = without(&day1, hole);
    write_pcap(d, "d1.pcap", &lost, 1_000);
    let mut all = lost.clone();
    all.extend(day2.iter().map(|p| &p[..]));
    write_pcap(d, "two.pcap", &all, 1_000);
    let run = |file: &str, day: &[&str]| replayed(d, file, day);
    let own = run("d1.pcap", &[]);
    let one = run("two.pcap", &["--day", "1"]);
    assert_eq!(
        one, own,
        "(exit status, events, digest): --day 1 of two.pcap vs d1.pcap"
    );
}

/// The same pcap as above: day 1's loss given up on during day 2 brings day 1's feed gap and
/// the 4 packets of day 1 held behind it into `replay --day 2`, which is then not day 2's own
/// pcap.
#[test]
fn a_replay_of_day_two_gets_nothing_of_day_one_s_late_loss() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let (day1, day2) = two_day_packets(d);
    let hole = day1.len() - 5;
    let mut all = without(&day1, hole);
    all.extend(day2.iter().map(|p| &p[..]));
    write_pcap(d, "two.pcap", &all, 1_000);
    let alone: Vec<&[u8]> = day2.iter().map(|p| &p[..]).collect();
    write_pcap(d, "d2.pcap", &alone, 1_000);
    let own = json(&["replay", "d2.pcap", "--no-latency"], d);
    let o = ticklane(
        &["replay", "two.pcap", "--day", "2", "--no-latency", "--json"],
        d,
    );
    let one: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(
        (&one["events"], &one["digest"]),
        (&own["events"], &own["digest"]),
        "--day 2 of two.pcap vs d2.pcap"
    );
}

/// `--day 5` of a source of two days replays nothing: its report files number no day the run
/// did not replay. days.csv had a row per strategy numbered day 3 (`skipped_days + 1`, a day
/// neither asked for nor held), and the JSON said `first_day` 3.
#[test]
fn a_missing_day_s_reports_name_no_other_day() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    two_days(d);
    let o = ticklane(
        &["replay", "two.itch", "--day", "5", "--out", "out", "--json"],
        d,
    );
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let days = std::fs::read_to_string(d.join("out/days.csv")).unwrap();
    let named: Vec<&str> = days
        .lines()
        .skip(1)
        .map(|l| l.split(',').nth(1).unwrap())
        .collect();
    assert!(
        named.iter().all(|x| *x == "5"),
        "days.csv names days {named:?} for --day 5 (first_day {})",
        v["first_day"]
    );
}

/// The window lines of `replay --day N` say what happened: day 1 stopped at day 2's start,
/// not "source ended before --to" (the source went on); and a symbol day 1 names but day 2
/// does not is not one "that no directory message of the source names" under `--day 2` (day
/// 1 was read, and names it).
#[test]
fn the_window_lines_of_a_replay_of_one_day_say_what_ended_it() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    gen_day(d, "7", "d1.itch");
    // Day 2 of 4 instruments: TSLA, named on day 1, is not among them.
    let o = ticklane(
        &[
            "gen",
            "--seed",
            "8",
            "--messages",
            "20000",
            "--instruments",
            "4",
            "-o",
            "d2.itch",
        ],
        d,
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let mut two = std::fs::read(d.join("d1.itch")).unwrap();
    two.extend(std::fs::read(d.join("d2.itch")).unwrap());
    std::fs::write(d.join("two.itch"), two).unwrap();
    let window = |args: &[&str]| {
        let o = ticklane(args, d);
        String::from_utf8_lossy(&o.stdout)
            .lines()
            .filter(|l| l.starts_with("window"))
            .collect::<Vec<_>>()
            .join("\n")
    };
    // TSLA is on day 1 (nothing said of it there).
    let day1 = window(&[
        "replay",
        "two.itch",
        "--day",
        "1",
        "--symbols",
        "AAPL,TSLA",
        "--to",
        "23:00:00",
    ]);
    assert!(!day1.contains("TSLA"), "{day1}");
    let mut wrong = Vec::new();
    if day1.contains("source ended before --to") {
        wrong.push(format!("day 1 ended at day 2's start, yet:\n{day1}"));
    }
    let day2 = window(&["replay", "two.itch", "--day", "2", "--symbols", "AAPL,TSLA"]);
    if day2.contains("no directory message of the source names") {
        wrong.push(format!("day 1 of the source names TSLA, yet:\n{day2}"));
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

/// `messages` of `replay --day 2` counts the messages replayed, as day 2's own file does (and
/// as `--day 1` and `--to` do: the message that ended the read is not counted): it counted day
/// 1's 20,000 too, read and not replayed (`other_days` counts their events apart).
#[test]
fn the_messages_of_a_replay_of_day_two_are_day_two_s() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    two_days(d);
    for (day, alone) in [("1", "d1.itch"), ("2", "d2.itch")] {
        let own = json(&["replay", alone, "--no-latency"], d);
        let one = json(&["replay", "two.itch", "--day", day, "--no-latency"], d);
        assert_eq!(one["messages"], own["messages"], "--day {day}");
    }
}

/// Review (sessend): a pcap of two days whose day 1 line A lost a packet five packets before
/// its end, the copy of it (line B, or a re-request's answer) coming 1 ms after day 1's
/// end-of-session packet and after day 2's first packet, well inside the 50 ms a gap waits.
/// Day 1's own pcap with the same late copy recovers it; the two-day pcap must too. Since
/// `SessionsById::start` finishes an ended session when the next one starts, the copy was
/// queued behind day 2's held first packet and reached day 1's session after it was
/// finished: the gap was declared lost (exit 1) and the copy counted a duplicate.
#[test]
fn review_sessend_a_late_copy_of_day_one_after_day_two_s_first_packet_is_not_lost() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let (day1, day2) = two_day_packets(d);
    let hole = day1.len() - 5;
    let mut d1 = without(&day1, hole);
    let mut all = d1.clone();
    // Day 1 alone: the late copy after its end-of-session packet.
    d1.push(&day1[hole]);
    write_pcap(d, "d1.pcap", &d1, 1_000_000);
    // Two days: day 2's first packet, then day 1's late copy, then the rest of day 2.
    all.push(&day2[0]);
    all.push(&day1[hole]);
    all.extend(day2[1..].iter().map(|p| &p[..]));
    write_pcap(d, "two.pcap", &all, 1_000_000);
    let run = |file: &str, day: &[&str]| replayed(d, file, day);
    let own = run("d1.pcap", &[]);
    assert_eq!(own.0, Some(0), "day 1 alone recovers the late copy");
    let one = run("two.pcap", &["--day", "1"]);
    assert_eq!(
        one, own,
        "(exit status, events, digest): --day 1 of two.pcap vs d1.pcap"
    );
}

/// Review (sessend): one trading day, one MoldUDP64 session, whose line A lost a packet five
/// packets before its end; its copy (line B or a re-request's answer) comes 1 ms after the
/// end-of-session packet. A stray 20-byte datagram of another session id (junk that parses
/// as a MoldUDP64 heartbeat) between the two must change nothing: it opens a session that
/// carries no message. Since `SessionsById::start` finishes every session that announced its
/// end when another starts, the junk's session start finished the day's session first: the
/// gap was lost (exit 1) and the late copy counted a duplicate.
#[test]
fn review_sessend_a_stray_datagram_after_the_end_of_session_does_not_lose_a_late_copy() {
    use ticklane_feeds::moldudp64::MoldPacketBuilder;
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    gen_day(d, "7", "d1.itch");
    let day1 = mold_packets(d, "d1.itch", b"DAY0000001");
    let hole = day1.len() - 5;
    let lost = without(&day1, hole);
    let junk = MoldPacketBuilder::new(*b"JUNK000000", 1).heartbeat();
    let mut clean = lost.clone();
    clean.push(&day1[hole]);
    write_pcap(d, "clean.pcap", &clean, 1_000_000);
    let mut with_junk = lost.clone();
    with_junk.push(&junk);
    with_junk.push(&day1[hole]);
    write_pcap(d, "junk.pcap", &with_junk, 1_000_000);
    let run = |file: &str| replayed(d, file, &[]);
    let clean = run("clean.pcap");
    assert_eq!(
        clean.0,
        Some(0),
        "the late copy is recovered without the junk"
    );
    assert_eq!(
        run("junk.pcap"),
        clean,
        "(exit status, events, digest): with a stray datagram before the late copy vs without"
    );
}
