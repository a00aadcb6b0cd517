//! Live paper runs end to end on loopback, as the README's walkthrough does them:
//! `serve` → `paper --feed udp://` with faults injected and the feed recorded, the same over
//! multicast (two groups sharing a port, on loopback), and `serve` → `relay` →
//! `paper --feed quic://`. The live run's digest equals the digest of the
//! same session read from memory, and the replay of what it recorded; an unauthenticated QUIC
//! client is refused.

#![allow(clippy::unwrap_used)]

use std::net::{Ipv4Addr, UdpSocket};
use std::path::Path;
use std::process::{Child, Command};

mod live_support;

use live_support::{finish, free_port, json_of, paper_config, run_ok, spawn, wait_udp_bound, BIN};
/// The generated session every run here serves: the one config/paper.toml generates, shorter.
const MESSAGES: &str = "60000";

/// The digest of the same session read from memory (no network).
fn reference_digest() -> String {
    let o = Command::new(BIN)
        .args([
            "run",
            "config/paper.toml",
            "--messages",
            MESSAGES,
            "--pace",
            "max",
            "--json",
        ])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    json_of(&o)["digest"].as_str().unwrap().to_string()
}

#[test]
fn serve_to_paper_over_udp_with_faults_equals_the_file_and_its_recording() {
    let dir = tempfile::tempdir().unwrap();
    let (a, b, rr) = (free_port(), free_port(), free_port());
    let cfg = paper_config();
    let retransmit = format!("127.0.0.1:{rr}");
    let lines = [format!("127.0.0.1:{a}"), format!("127.0.0.1:{b}")];
    let paper = spawn_paper(
        dir.path(),
        [
            &format!("udp://{}", lines[0]),
            &format!("udp://{}", lines[1]),
        ],
        &retransmit,
        &["--record", "live.cap"],
    );
    assert!(
        wait_udp_bound(a) && wait_udp_bound(b),
        "the receiver never opened its line"
    );
    let serve = spawn_serve(
        dir.path(),
        &lines,
        &retransmit,
        &["--dup", "0.01", "--reorder", "0.01", "--seed", "3"],
    );
    let served = finish(serve, "serve");
    let live = json_of(&finish(paper, "paper"));
    let served = String::from_utf8_lossy(&served.stdout).to_string();
    assert!(served.contains("dropped"), "{served}");
    assert_eq!(live["messages"], 60_000, "{live}");
    assert_eq!(live["errors"], 0, "{live}");
    let notes = live["source_notes"].to_string();
    assert!(notes.contains("0 lost in 0 gaps"), "{notes}");
    assert!(notes.contains("end of session: true"), "{notes}");

    let reference = reference_digest();
    assert_eq!(live["digest"].as_str().unwrap(), reference);

    // The recorder ran as the engine's worker (an actor owns its thread) and says what it
    // wrote: every record in the capture, none dropped.
    let workers = live["workers"].as_array().unwrap();
    assert_eq!(workers.len(), 1, "{live}");
    let rec = &workers[0];
    assert_eq!(rec["name"], "recorder", "{rec}");
    assert_eq!(rec["error"], serde_json::Value::Null, "{rec}");
    assert_eq!(rec["counters"]["dropped"], 0, "{rec}");
    assert_eq!(rec["counters"]["unwritten"], 0, "{rec}");
    assert_eq!(rec["lost"], 0, "{rec}");
    let mut reader = ticklane_replay::CaptureReader::open(dir.path().join("live.cap")).unwrap();
    let mut in_file = 0u64;
    while let Some(r) = reader.next_record() {
        r.unwrap();
        in_file += 1;
    }
    assert!(in_file > 1_000, "{in_file}");
    assert_eq!(rec["counters"]["written"], in_file, "{rec}");

    // The recording replays to the live run's digest.
    let o = Command::new(BIN)
        .args(["replay", "live.cap", "--config", &cfg, "--json"])
        .current_dir(dir.path())
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let replay = json_of(&o);
    assert_eq!(replay["digest"], live["digest"]);
    assert_eq!(replay["messages"], 60_000);
    assert!(dir.path().join("report/summary.json").exists());
}

/// `paper` (config/paper.toml) on lines `feeds` (A, B) with re-requests to `retransmit`, then
/// `extra`; it stops after 20 s of silence, re-requests patiently (500 ms, 10 tries), writes
/// its reports to `report/` and its summary as
/// JSON.
fn spawn_paper(dir: &Path, feeds: [&str; 2], retransmit: &str, extra: &[&str]) -> Child {
    let cfg = paper_config();
    let mut args = vec![
        "paper",
        "--config",
        &cfg,
        "--feed",
        feeds[0],
        "--line-b",
        feeds[1],
        "--retransmit",
        retransmit,
        "--stop-after-silence",
        "20",
        // A server starved of CPU on a loaded machine answers re-requests late: the
        // default 3 tries of 50 ms can give up gaps the server does answer.
        "--request-timeout-ms",
        "500",
        "--retries",
        "10",
        "--out",
        "report",
        "--json",
    ];
    args.extend_from_slice(extra);
    spawn(&args, dir)
}

/// `serve` of the generated session ([`MESSAGES`]) to `lines` (A, B) at max speed with 1% loss,
/// re-requests on `retransmit`, 2 s of lingering, then `extra`.
fn spawn_serve(dir: &Path, lines: &[String; 2], retransmit: &str, extra: &[&str]) -> Child {
    let source = format!("generated:7:{MESSAGES}");
    let mut args = vec![
        "serve",
        &source,
        "--to",
        &lines[0],
        "--line-b",
        &lines[1],
        "--retransmit",
        retransmit,
        "--speed",
        "max",
        "--loss",
        "0.01",
        "--linger",
        "2",
    ];
    args.extend_from_slice(extra);
    spawn(&args, dir)
}

/// The number that follows the first `prefix` in `text`.
fn number_after(text: &str, prefix: &str) -> u64 {
    let rest = &text[text
        .find(prefix)
        .unwrap_or_else(|| panic!("no {prefix:?} in {text}"))..];
    let digits: String = rest[prefix.len()..]
        .chars()
        .take_while(char::is_ascii_digit)
        .collect();
    digits.parse().unwrap()
}

/// The README's multicast walkthrough, on one host: lines A and B on two groups that share a
/// port, joined on loopback, and `serve --multicast-if 127.0.0.1` (without it the groups went
/// out of the default interface and the engine received nothing). The session arrives whole,
/// and each line receives its own group only (each received both: every datagram twice).
#[test]
fn serve_to_paper_over_multicast_on_one_host_with_two_groups_sharing_a_port() {
    let (group_a, group_b) = (Ipv4Addr::new(239, 1, 1, 1), Ipv4Addr::new(239, 1, 1, 2));
    let probe = UdpSocket::bind((Ipv4Addr::UNSPECIFIED, 0)).unwrap();
    if let Err(e) = probe.join_multicast_v4(&group_a, &Ipv4Addr::LOCALHOST) {
        eprintln!("multicast on loopback not available here ({e}); skipped");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let (port, rr) = (free_port(), free_port());
    let retransmit = format!("127.0.0.1:{rr}");
    let paper = spawn_paper(
        dir.path(),
        [
            &format!("udp://{group_a}:{port}@127.0.0.1"),
            &format!("udp://{group_b}:{port}@127.0.0.1"),
        ],
        &retransmit,
        &[],
    );
    assert!(wait_udp_bound(port), "the receiver never opened its lines");
    let lines = [format!("{group_a}:{port}"), format!("{group_b}:{port}")];
    let serve = spawn_serve(
        dir.path(),
        &lines,
        &retransmit,
        &["--multicast-if", "127.0.0.1"],
    );
    let served = String::from_utf8_lossy(&finish(serve, "serve").stdout).to_string();
    let live = json_of(&finish(paper, "paper"));
    assert_eq!(live["messages"], 60_000, "{live}");
    let notes = live["source_notes"].to_string();
    assert!(notes.contains("0 lost in 0 gaps"), "{notes}");
    assert_eq!(live["digest"].as_str().unwrap(), reference_digest());
    // Each line received at most what was sent to it (end-of-session repeats may be left
    // unread, and a loaded host may drop a datagram); with both groups it got twice that.
    for (line, received) in [("A", "(A "), ("B", ", B ")] {
        let sent = number_after(&served, &format!("line {line}: sent "));
        let got = number_after(&notes, received);
        assert!(
            got <= sent && 2 * got > sent,
            "line {line}: sent {sent}, received {got}: {notes}"
        );
    }
}

#[test]
fn serve_to_relay_to_paper_over_quic_and_a_client_without_the_token_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let (a, rr) = (free_port(), free_port());
    let quic = free_port();
    let cfg = paper_config();
    let o = Command::new(BIN)
        .args(["cert", "--out", "certs"])
        .current_dir(dir.path())
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let relay = spawn(
        &[
            "--log",
            "debug,quinn=info,quinn_proto=info,rustls=info",
            "relay",
            "--from",
            &format!("udp://127.0.0.1:{a}"),
            "--retransmit",
            &format!("127.0.0.1:{rr}"),
            "--listen",
            &format!("127.0.0.1:{quic}"),
            "--token",
            "s3cret",
            "--stop-after-silence",
            "20",
        ],
        dir.path(),
    );
    assert!(
        wait_udp_bound(a) && wait_udp_bound(quic),
        "the relay never opened its line and its listener"
    );
    let feed = format!("quic://127.0.0.1:{quic}");
    // Without the token: refused, a clear error, non-zero exit.
    let o = Command::new(BIN)
        .args([
            "paper",
            "--config",
            &cfg,
            "--feed",
            &feed,
            "--ca",
            "certs/cert.pem",
            "--json",
        ])
        .current_dir(dir.path())
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&o.stderr).to_lowercase();
    assert!(!o.status.success(), "{err}");
    assert!(err.contains("unauthorized"), "{err}");

    let paper = spawn(
        &[
            "--log",
            "debug,quinn=info,quinn_proto=info,rustls=info",
            "paper",
            "--config",
            &cfg,
            "--feed",
            &feed,
            "--ca",
            "certs/cert.pem",
            "--token",
            "s3cret",
            "--record",
            "via-quic.cap",
            "--stop-after-silence",
            "20",
            "--out",
            "report",
            "--json",
        ],
        dir.path(),
    );
    std::thread::sleep(std::time::Duration::from_millis(700));
    let serve = spawn(
        &[
            "serve",
            &format!("generated:7:{MESSAGES}"),
            "--to",
            &format!("127.0.0.1:{a}"),
            "--retransmit",
            &format!("127.0.0.1:{rr}"),
            "--speed",
            "max",
            "--loss",
            "0.01",
            "--seed",
            "5",
            "--linger",
            "2",
        ],
        dir.path(),
    );
    finish(serve, "serve");
    let paper = finish(paper, "paper");
    let live = json_of(&paper);
    let relay = finish(relay, "relay");
    // The token is a secret: never in a log, even at debug level.
    for (who, o) in [("paper", &paper), ("relay", &relay)] {
        let log = String::from_utf8_lossy(&o.stderr);
        assert!(!log.is_empty(), "{who} logged nothing at debug level");
        assert!(!log.contains("s3cret"), "{who} logged the token");
    }
    let relay_out = String::from_utf8_lossy(&relay.stdout).to_string();
    assert!(relay_out.contains("1 refused"), "{relay_out}");
    assert_eq!(live["messages"], 60_000, "{live}");
    assert_eq!(live["errors"], 0, "{live}");
    assert_eq!(live["digest"].as_str().unwrap(), reference_digest());
    let o = Command::new(BIN)
        .args(["replay", "via-quic.cap", "--config", &cfg, "--json"])
        .current_dir(dir.path())
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert_eq!(json_of(&o)["digest"], live["digest"]);
}

#[test]
fn record_a_served_file_over_udp_then_replay_it_to_the_digest_of_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let (a, b, rr) = (free_port(), free_port(), free_port());
    let cfg = paper_config();
    let run = |args: &[&str]| {
        let o = Command::new(BIN)
            .args(args)
            .current_dir(dir.path())
            .output()
            .unwrap();
        assert!(
            o.status.success(),
            "{args:?}: {}",
            String::from_utf8_lossy(&o.stderr)
        );
        o
    };
    run(&[
        "gen",
        "--seed",
        "11",
        "--messages",
        "50000",
        "-o",
        "day.itch",
    ]);
    let record = spawn(
        &[
            "record",
            &format!("udp://127.0.0.1:{a}"),
            "--line-b",
            &format!("udp://127.0.0.1:{b}"),
            "--retransmit",
            &format!("127.0.0.1:{rr}"),
            "--stop-after-silence",
            "20",
            // A server starved of CPU on a loaded machine answers re-requests late: the
            // default 3 tries of 50 ms gave gaps up that the server did answer.
            "--request-timeout-ms",
            "500",
            "--retries",
            "10",
            // Pinned to the server's session: the recording says so (its `FROM` note).
            "--session",
            "TICKLANE01",
            "-o",
            "rec.cap",
        ],
        dir.path(),
    );
    assert!(
        wait_udp_bound(a) && wait_udp_bound(b),
        "the receiver never opened its line"
    );
    let serve = spawn(
        &[
            "serve",
            "day.itch",
            "--to",
            &format!("127.0.0.1:{a}"),
            "--line-b",
            &format!("127.0.0.1:{b}"),
            "--retransmit",
            &format!("127.0.0.1:{rr}"),
            "--speed",
            "max",
            "--loss",
            "0.02",
            "--dup",
            "0.01",
            "--reorder",
            "0.01",
            "--seed",
            "8",
            // The recorder's re-requests must find the server still up: under a loaded CI
            // machine the recorder can fall seconds behind the wire (the default is 2 s).
            "--linger",
            "6",
        ],
        dir.path(),
    );
    finish(serve, "serve");
    let rec = finish(record, "record");
    let out = String::from_utf8_lossy(&rec.stdout).to_string();
    assert!(out.contains("0 dropped") && out.contains("0 lost"), "{out}");
    let mut reader = ticklane_replay::CaptureReader::open(dir.path().join("rec.cap")).unwrap();
    let first = reader.next_record().unwrap().unwrap();
    assert_eq!(first.line, ticklane_replay::Line::Note);
    assert_eq!(&first.bytes[..4], b"FROM");
    assert_eq!(&first.bytes[12..], b"TICKLANE01", "the pinned session");
    let digest = |file: &str| {
        let o = run(&["replay", file, "--config", &cfg, "--json"]);
        let v = json_of(&o);
        assert_eq!(v["messages"], 50_000, "{file}: {v}");
        v["digest"].as_str().unwrap().to_string()
    };
    assert_eq!(digest("rec.cap"), digest("day.itch"));
}

#[test]
fn live_timing_values_out_of_range_are_refused_by_name() {
    // Values whose nanoseconds overflow u64 (they wrapped: a panic in a debug build), and a
    // negative or zero silence (it stopped the run at the first quiet poll).
    let cfg = paper_config();
    for (flag, value, key) in [
        ("--grace-us", "18446744073709552", "grace_us"),
        (
            "--request-timeout-ms",
            "18446744073710",
            "request_timeout_ms",
        ),
        ("--stop-after-silence=-1", "", "stop_after_silence"),
        ("--stop-after-silence", "NaN", "stop_after_silence"),
        ("--stop-after-silence", "0", "stop_after_silence"),
        // Not timing, but out of range the same way: 0 requests would never ask.
        ("--requests-per-gap", "0", "requests_per_gap"),
        ("--requests-per-gap", "1025", "requests_per_gap"),
        ("--max-packet", "65508", "max_packet"),
        // Not timing, but ignored the same way: a QUIC client sizes its own socket's buffers.
        ("--recv-buffer", "1048576", "--recv-buffer"),
    ] {
        let feed = if flag == "--recv-buffer" {
            "quic://127.0.0.1:9"
        } else {
            "udp://127.0.0.1:9"
        };
        let o = Command::new(BIN)
            .args(["paper", "--config", &cfg, "--feed", feed, flag])
            .args((!value.is_empty()).then_some(value))
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(2), "{flag} {value}: {err}");
        assert!(err.contains(key), "{flag} {value}: {err}");
        assert!(!err.contains("panicked"), "{err}");
    }
}

#[test]
fn live_only_flags_without_a_live_feed_are_refused_not_ignored() {
    // Each of these ran a file replay that dropped the flag without a word (`--record` wrote
    // no capture, exit 0); `--pace` with `--feed` was replaced by `max`, `--file` with it
    // ignored, and a client key without its certificate dropped.
    let dir = tempfile::tempdir().unwrap();
    let cfg = paper_config();
    let file = dir.path().join("s.itch");
    let file = file.to_str().unwrap();
    run_ok(&["gen", "--seed", "3", "--messages", "2000", "-o", file]);
    let feed = ["--feed", "udp://127.0.0.1:9"];
    for (args, says) in [
        (&["--file", file, "--record", "live.cap"][..], "--feed"),
        (
            &["--file", file, "--line-b", "udp://127.0.0.1:8"][..],
            "--feed",
        ),
        (
            &["--file", file, "--retransmit", "127.0.0.1:7"][..],
            "--feed",
        ),
        (&["--file", file, "--no-recovery"][..], "--feed"),
        (&["--file", file, "--join"][..], "--feed"),
        (&["--file", file, "--retries", "5"][..], "--feed"),
        (&["--file", file, "--token", "t"][..], "--feed"),
        (&[feed[0], feed[1], "--pace", "1x"][..], "--pace"),
        (&[feed[0], feed[1], "--file", file][..], "--file"),
        (
            &[feed[0], feed[1], "--client-key", "k.pem"][..],
            "--client-cert",
        ),
        // QUIC settings with a UDP feed, recording settings without a recording: refused by
        // name, as in a `[source.live]` table (they were ignored).
        (&[feed[0], feed[1], "--quic-stream"][..], "--quic-stream"),
        (&[feed[0], feed[1], "--ca", "ca.pem"][..], "--ca"),
        (&[feed[0], feed[1], "--token", "t"][..], "--token"),
        (
            &[feed[0], feed[1], "--record-flush", "block"][..],
            "--record-flush",
        ),
        (
            &[feed[0], feed[1], "--record-ring-mb", "8"][..],
            "--record-ring-mb",
        ),
    ] {
        let o = Command::new(BIN)
            .args(["paper", "--config", &cfg, "--json"])
            .args(args)
            .current_dir(dir.path())
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(2), "{args:?}: {err}");
        assert!(err.contains(says), "{args:?}: {err}");
        assert!(!dir.path().join("live.cap").exists());
    }
}

/// A live `record` whose feed lost messages for good (one line, no re-request server) exits 1
/// and lists what was lost, as `paper` does for input with errors: the capture is complete but
/// its session is not. (`relay` shares the rule: `cmd::relay::lost_exit_code`.)
#[test]
fn a_live_recording_that_lost_messages_for_good_exits_1_and_lists_them() {
    let dir = tempfile::tempdir().unwrap();
    let a = free_port();
    let record = spawn(
        &[
            "record",
            &format!("udp://127.0.0.1:{a}"),
            "--stop-after-silence",
            "3",
            "-o",
            "lossy.cap",
        ],
        dir.path(),
    );
    assert!(wait_udp_bound(a), "the receiver never opened its line");
    let serve = spawn(
        &[
            "serve",
            "generated:7:20000",
            "--to",
            &format!("127.0.0.1:{a}"),
            "--speed",
            "max",
            "--loss",
            "0.05",
            "--seed",
            "3",
            "--linger",
            "0",
        ],
        dir.path(),
    );
    finish(serve, "serve");
    let o = record.wait_with_output().unwrap();
    let (out, err) = (
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr),
    );
    assert_eq!(o.status.code(), Some(1), "{out}\n{err}");
    assert!(err.contains("lost for good: messages "), "{err}");
    assert!(!out.contains(" 0 lost)"), "{out}");
    assert!(dir.path().join("lossy.cap").is_file());
}

#[test]
fn relay_join_exists_as_the_readme_and_reliability_say() {
    // README ("A relay that joins mid-session (`--join`)"), RELIABILITY.md (rows "ticklane relay
    // --join") and feeds/live/src/relay.rs document `ticklane relay --join`: the relay's
    // `RelayConfig::first_sequence` is `None` only under it. The flag must parse; the run then
    // stops on the missing certificate, naming `--cert`.
    let dir = tempfile::tempdir().unwrap();
    let cert = dir.path().join("missing-cert.pem");
    let key = dir.path().join("missing-key.pem");
    let o = Command::new(BIN)
        .args([
            "relay",
            "--join",
            "--token",
            "t",
            "--listen",
            "127.0.0.1:0",
            "--cert",
        ])
        .arg(&cert)
        .arg("--key")
        .arg(&key)
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        !err.contains("unexpected argument"),
        "relay --join refused: {err}"
    );
    assert!(err.contains("--cert"), "{err}");
}

/// `ticklane relay` (a certificate made in `dir/certs`, token `s3cret`) from line A on a free
/// port to QUIC on another, stopping after 3 s of silence; returns it with the two ports once
/// both are bound.
fn spawn_relay_stopping_after_silence(dir: &Path) -> (Child, u16, u16) {
    let (a, rr, quic) = (free_port(), free_port(), free_port());
    let o = Command::new(BIN)
        .args(["cert", "--out", "certs"])
        .current_dir(dir)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let relay = spawn(
        &[
            "relay",
            "--from",
            &format!("udp://127.0.0.1:{a}"),
            "--retransmit",
            &format!("127.0.0.1:{rr}"),
            "--listen",
            &format!("127.0.0.1:{quic}"),
            "--token",
            "s3cret",
            "--stop-after-silence",
            "3",
        ],
        dir,
    );
    assert!(wait_udp_bound(a) && wait_udp_bound(quic));
    (relay, a, quic)
}

/// `record quic://` whose relay closes it with UPSTREAM_LOST (the relay's own feed went silent
/// mid-session: `relay --stop-after-silence`): the capture ends mid-session, the session never
/// ended, and the relay said so. RELIABILITY ("a client whose live path ends without an end of
/// session reports an error", "`record` ... as `paper` exits 1 on input errors"): `paper`
/// exits 1 here; `record` exited 0, as for a complete session.
#[test]
fn a_live_recording_whose_relay_closes_before_the_end_of_session_does_not_exit_0() {
    let dir = tempfile::tempdir().unwrap();
    let (relay, a, quic) = spawn_relay_stopping_after_silence(dir.path());
    let record = spawn(
        &[
            "record",
            &format!("quic://127.0.0.1:{quic}"),
            "--ca",
            "certs/cert.pem",
            "--token",
            "s3cret",
            "-o",
            "cut.cap",
        ],
        dir.path(),
    );
    std::thread::sleep(std::time::Duration::from_millis(700));
    send_three_packets_then_nothing(a);
    let relay = relay.wait_with_output().unwrap();
    let rec = record.wait_with_output().unwrap();
    let relay_err = String::from_utf8_lossy(&relay.stderr).to_string();
    assert!(relay_err.contains("UPSTREAM_LOST"), "{relay_err}");
    let err = String::from_utf8_lossy(&rec.stderr).to_string();
    let out = String::from_utf8_lossy(&rec.stdout).to_string();
    assert!(err.contains("UPSTREAM_LOST"), "{err}");
    assert!(out.contains("3 messages in order"), "{out}");
    assert_ne!(
        rec.status.code(),
        Some(0),
        "record exited 0 on a capture cut short by the relay:\n{out}\n{err}"
    );
}

/// `record --join` exists for live feeds, as `paper --join` does (a recording through a relay
/// that joined mid-session could only report the session's start lost and exit 1), and is
/// refused for a file, like the other live-only flags.
#[test]
fn record_takes_join_for_a_live_feed_and_refuses_it_for_a_file() {
    let help = Command::new(BIN)
        .args(["record", "--help"])
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&help.stdout).contains("--join"));
    let dir = tempfile::tempdir().unwrap();
    let o = Command::new(BIN)
        .args(["record", "day.itch", "-o", "x.cap", "--join"])
        .current_dir(dir.path())
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("--join applies to live inputs"), "{err}");
}

/// `record udp://` stopped by `--stop-after-silence` before the end of session: the capture
/// ends mid-session, and the command says so and exits 1, as the same recording through a
/// relay does (it printed "0 lost" and exited 0, as for a whole session; only a log line told).
#[test]
fn a_live_udp_recording_cut_short_by_silence_does_not_exit_0() {
    let dir = tempfile::tempdir().unwrap();
    let a = free_port();
    let record = spawn(
        &[
            "record",
            &format!("udp://127.0.0.1:{a}"),
            "--stop-after-silence",
            "0.5",
            "-o",
            "cut.cap",
        ],
        dir.path(),
    );
    assert!(wait_udp_bound(a));
    send_three_packets_then_nothing(a);
    let rec = record.wait_with_output().unwrap();
    let err = String::from_utf8_lossy(&rec.stderr).to_string();
    let out = String::from_utf8_lossy(&rec.stdout).to_string();
    assert!(out.contains("3 messages in order"), "{out}");
    assert!(
        err.contains("silent before its end of session"),
        "{out}\n{err}"
    );
    assert_eq!(rec.status.code(), Some(1), "{out}\n{err}");
}

/// RELIABILITY ("Packets larger than the receiver's reorder slots"): with slots too small
/// (`serve --max-packet 8000`, the receiver's default 2,048) each such packet is counted and
/// "the report names the setting", for `paper`, `record` and `relay`. `paper`'s summary has
/// the line; a live `record`'s report (its summary line and stderr) has neither the count nor
/// the flag: only a log warning, gone under `--log error`.
#[test]
fn a_live_recordings_report_counts_packets_too_large_for_its_slots_and_names_the_flag() {
    let dir = tempfile::tempdir().unwrap();
    let (a, rr) = (free_port(), free_port());
    let retransmit = format!("127.0.0.1:{rr}");
    let record = spawn(
        &[
            "record",
            "--log",
            "error",
            &format!("udp://127.0.0.1:{a}"),
            "--retransmit",
            &retransmit,
            "--stop-after-silence",
            "5",
            "-o",
            "big.cap",
        ],
        dir.path(),
    );
    assert!(wait_udp_bound(a), "the receiver never opened its line");
    let serve = spawn(
        &[
            "serve",
            "generated:7:20000",
            "--to",
            &format!("127.0.0.1:{a}"),
            "--retransmit",
            &retransmit,
            "--speed",
            "max",
            "--max-packet",
            "8000",
            "--reorder",
            "0.2",
            "--seed",
            "3",
            // A debug build's receiver reads only once its recorder's ring is built (over a
            // second after its line is bound): the server must still be there to answer.
            "--linger",
            "5",
        ],
        dir.path(),
    );
    finish(serve, "serve");
    let o = record.wait_with_output().unwrap();
    // 0, or 1 if a loaded machine kept the receiver from asking before the server left: what
    // this test checks is the report's line, either way.
    assert!(
        matches!(o.status.code(), Some(0 | 1)),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let said = format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    assert!(
        said.contains("larger than the reorder slots") && said.contains("--max-packet"),
        "the report does not say that packets were too large for the slots: {said}"
    );
}

/// Sends to `127.0.0.1:port` three one-message packets of session `TICKLANE01` (sequence
/// numbers 1 to 3), then nothing: no end of session.
fn send_three_packets_then_nothing(port: u16) {
    let tx = UdpSocket::bind((Ipv4Addr::LOCALHOST, 0)).unwrap();
    for seq in 1u64..=3 {
        let mut p = b"TICKLANE01".to_vec();
        p.extend_from_slice(&seq.to_be_bytes());
        p.extend_from_slice(&1u16.to_be_bytes());
        p.extend_from_slice(&3u16.to_be_bytes());
        p.extend_from_slice(b"S\x00\x01");
        tx.send_to(&p, (Ipv4Addr::LOCALHOST, port)).unwrap();
    }
}

/// `relay --stop-after-silence` whose feed goes quiet mid-session (three messages, no end of
/// session): every subscriber is closed with UPSTREAM_LOST and the relayed session is cut
/// short, so the relay exits 1 (it exited 0, its summary reading as a whole session's). A live `record` of
/// the same feed exits 1 and says "the capture ends mid-session"
/// (`a_live_udp_recording_cut_short_by_silence_does_not_exit_0`).
#[test]
fn a_relay_cut_short_by_silence_does_not_exit_0() {
    let dir = tempfile::tempdir().unwrap();
    let (relay, a, _) = spawn_relay_stopping_after_silence(dir.path());
    send_three_packets_then_nothing(a);
    let relay = relay.wait_with_output().unwrap();
    let out = String::from_utf8_lossy(&relay.stdout).to_string();
    let err = String::from_utf8_lossy(&relay.stderr).to_string();
    assert!(out.contains("3 messages"), "{out}\n{err}");
    assert_eq!(
        relay.status.code(),
        Some(1),
        "relay exited 0 on a session cut short by silence:\n{out}\n{err}"
    );
}

/// README ("`--client-ca` on the relay and `--client-cert/--client-key` on the engine switch to
/// mutual TLS"; "Live packets travel as QUIC datagrams (`--quic-stream` for a reliable
/// stream)"): `record quic://` takes them as `paper --feed quic://` does (it refused them as
/// unknown arguments: a relay that admits by client certificate only could not be recorded,
/// nor a recording ask for the reliable stream).
#[test]
fn record_quic_takes_the_client_certificate_and_stream_flags() {
    let dir = tempfile::tempdir().unwrap();
    for extra in [
        &["--client-cert", "c.pem", "--client-key", "k.pem"][..],
        &["--quic-stream"][..],
    ] {
        let o = Command::new(BIN)
            .args([
                "record",
                "quic://127.0.0.1:9",
                "-o",
                "x.cap",
                "--ca",
                "ca.pem",
            ])
            .args(extra)
            .current_dir(dir.path())
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(
            !err.contains("unexpected argument"),
            "record quic:// refused {extra:?}: {err}"
        );
    }
}
