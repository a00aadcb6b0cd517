//! Faults of the process itself: `kill -9` of a recording engine leaves a capture that reads
//! back (torn tail reported, index rebuilt) and replays; Ctrl-C during a live paper run or a
//! replay engages the kill switch, writes the reports and exits cleanly; Ctrl-C during `serve`
//! ends the session without the linger.

#![allow(clippy::unwrap_used)]

use std::path::Path;
use std::process::{Child, Command};
use std::time::Duration;

mod live_support;

use live_support::{free_port, json_exit, paper_config, spawn, wait_udp_bound, BIN};

fn interrupt(child: &Child) {
    let ok = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(ok.success());
}

/// Waits for `child` to end, at most `limit` (then kills it and fails: a process that ignored
/// the signal would otherwise hang the test).
fn wait_at_most(mut child: Child, limit: Duration, what: &str) -> std::process::Output {
    let step = Duration::from_millis(50);
    let mut waited = Duration::ZERO;
    while child.try_wait().unwrap().is_none() {
        if waited > limit {
            let _ = child.kill();
            panic!("{what} did not stop on Ctrl-C within {limit:?}");
        }
        std::thread::sleep(step);
        waited += step;
    }
    child.wait_with_output().unwrap()
}

/// Waits (at most `limit`) until `path` holds at least `bytes` bytes.
fn wait_for_size(path: &Path, bytes: u64, limit: Duration) -> bool {
    let step = Duration::from_millis(50);
    let mut waited = Duration::ZERO;
    while waited < limit {
        if std::fs::metadata(path).is_ok_and(|m| m.len() >= bytes) {
            return true;
        }
        std::thread::sleep(step);
        waited += step;
    }
    false
}

#[test]
fn kill_9_of_a_recording_engine_leaves_a_capture_that_reads_back_and_replays() {
    let dir = tempfile::tempdir().unwrap();
    let (a, rr) = (free_port(), free_port());
    let cfg = paper_config();
    let mut paper = spawn(
        &[
            "paper",
            "--config",
            &cfg,
            "--feed",
            &format!("udp://127.0.0.1:{a}"),
            "--retransmit",
            &format!("127.0.0.1:{rr}"),
            "--record",
            "live.cap",
            "--json",
        ],
        dir.path(),
    );
    assert!(wait_udp_bound(a), "the receiver never opened its line");
    // About 40 s of the generated session at this pace: the engine is killed in the middle.
    let mut serve = spawn(
        &[
            "serve",
            "generated:7:600000",
            "--to",
            &format!("127.0.0.1:{a}"),
            "--retransmit",
            &format!("127.0.0.1:{rr}"),
            "--speed",
            "1500x",
        ],
        dir.path(),
    );
    let cap = dir.path().join("live.cap");
    // Two 1 MiB blocks on disk, then SIGKILL: no chance to finish the file.
    let grew = wait_for_size(&cap, 2 << 20, Duration::from_secs(60));
    paper.kill().unwrap();
    paper.wait().unwrap();
    serve.kill().unwrap();
    serve.wait().unwrap();
    assert!(grew, "the capture never reached 2 MiB");

    let o = Command::new(BIN)
        .args(["inspect", "live.cap", "--json"])
        .current_dir(dir.path())
        .output()
        .unwrap();
    // SIGKILL may land between a block's header and the end of its payload (two writes): a
    // torn tail is then correct, reported, and the only error allowed (exit 1).
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_torn_tail_at_most(o.status.code(), &v, "error_list");
    let recovery = v.to_string();
    assert!(
        recovery.contains("rebuilt by scanning"),
        "the index trailer was never written: {recovery}"
    );
    // Killed between blocks, the file reads as whole: the line says what it cannot count.
    assert!(
        recovery.contains("records after its last whole block, if any, cannot be counted"),
        "{recovery}"
    );
    assert!(v["messages"].as_u64().unwrap() > 10_000, "{recovery}");

    let o = Command::new(BIN)
        .args(["replay", "live.cap", "--config", &cfg, "--json"])
        .current_dir(dir.path())
        .output()
        .unwrap();
    let r: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_torn_tail_at_most(o.status.code(), &r, "first_errors");
    assert!(r["messages"].as_u64().unwrap() > 10_000, "{r}");
}

/// Exit 0 with no error, or exit 1 with exactly one error: the torn tail.
fn assert_torn_tail_at_most(code: Option<i32>, v: &serde_json::Value, list: &str) {
    match v["errors"].as_u64() {
        Some(0) => assert_eq!(code, Some(0), "{v}"),
        Some(1) => {
            assert_eq!(code, Some(1), "{v}");
            assert!(
                v[list].to_string().contains("torn or corrupted tail"),
                "the one error is the torn tail: {v}"
            );
        }
        _ => panic!("unexpected errors: {v}"),
    }
}

#[test]
fn ctrl_c_during_a_live_paper_run_writes_the_reports_and_exits_cleanly() {
    let dir = tempfile::tempdir().unwrap();
    let a = free_port();
    let paper = spawn(
        &[
            "paper",
            "--config",
            &paper_config(),
            "--feed",
            &format!("udp://127.0.0.1:{a}"),
            "--out",
            "report",
            "--json",
        ],
        dir.path(),
    );
    std::thread::sleep(Duration::from_millis(1_500));
    interrupt(&paper);
    let o = paper.wait_with_output().unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(String::from_utf8_lossy(&o.stderr).contains("interrupted"));
    assert!(dir.path().join("report/summary.json").exists());
    assert!(dir.path().join("report/orders.csv").exists());
}

/// Ctrl-C during `serve` sends the end of session and exits without the linger, and says so
/// (it said "end of session, then the linger", and did not linger).
#[test]
fn ctrl_c_during_serve_ends_the_session_without_the_linger_and_says_so() {
    let dir = tempfile::tempdir().unwrap();
    let (a, rr) = (free_port(), free_port());
    // At 1x the generated session waits an hour of event time after its first message.
    let serve = spawn(
        &[
            "serve",
            "generated:7:20000",
            "--to",
            &format!("127.0.0.1:{a}"),
            "--retransmit",
            &format!("127.0.0.1:{rr}"),
            "--speed",
            "1x",
            "--linger",
            "60",
        ],
        dir.path(),
    );
    assert!(
        wait_udp_bound(rr),
        "serve never bound its re-request server"
    );
    // Its Ctrl-C handler is installed right after.
    std::thread::sleep(Duration::from_millis(1_000));
    interrupt(&serve);
    // Well under the 60 s linger.
    let o = wait_at_most(serve, Duration::from_secs(20), "serve");
    let (out, err) = (
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr),
    );
    assert!(o.status.success(), "{err}");
    assert!(
        err.contains("interrupted: end of session, without the linger"),
        "{err}"
    );
    assert!(out.contains("(stopped)"), "{out}");
}

#[test]
fn ctrl_c_stops_a_relay_cleanly_with_its_summary() {
    let dir = tempfile::tempdir().unwrap();
    let o = Command::new(BIN)
        .args(["cert", "--out", "certs"])
        .current_dir(dir.path())
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let (a, rr, quic) = (free_port(), free_port(), free_port());
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
            "t0ken",
        ],
        dir.path(),
    );
    std::thread::sleep(Duration::from_millis(1_000));
    interrupt(&relay);
    let o = wait_at_most(relay, Duration::from_secs(30), "the relay");
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(o.status.success(), "{err}");
    assert!(err.contains("interrupted"), "{err}");
    assert!(String::from_utf8_lossy(&o.stdout).contains("relay: "));
}

#[test]
fn ctrl_c_during_a_replay_writes_the_reports_and_exits_cleanly() {
    let dir = tempfile::tempdir().unwrap();
    let o = Command::new(BIN)
        .args([
            "gen",
            "--seed",
            "7",
            "--messages",
            "200000",
            "-o",
            "day.itch",
        ])
        .current_dir(dir.path())
        .output()
        .unwrap();
    assert!(o.status.success());
    // Real time: the session would take hours.
    let replay = spawn(
        &[
            "replay", "day.itch", "--speed", "1x", "--out", "report", "--json",
        ],
        dir.path(),
    );
    std::thread::sleep(Duration::from_millis(1_500));
    interrupt(&replay);
    let o = replay.wait_with_output().unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert!(v["messages"].as_u64().unwrap() < 200_000, "{v}");
    assert!(dir.path().join("report/summary.json").exists());
}

#[test]
fn malformed_input_gives_located_errors_the_rest_is_processed_and_the_exit_code_says_so() {
    let dir = tempfile::tempdir().unwrap();
    let run = |args: &[&str]| {
        Command::new(BIN)
            .args(args)
            .current_dir(dir.path())
            .output()
            .unwrap()
    };
    // A file that is not there: exit 2, named.
    let o = run(&["replay", "nothere.itch"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("nothere.itch"));

    // Garbage: undecodable, then unframeable; each error is located, exit 1.
    let garbage: Vec<u8> = (0..5000u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect();
    std::fs::write(dir.path().join("garbage.bin"), garbage).unwrap();
    let o = run(&["replay", "garbage.bin", "--json"]);
    assert_eq!(o.status.code(), Some(1));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let errors = v["first_errors"].to_string();
    assert!(
        errors.contains("(framing): truncated message at offset"),
        "{errors}"
    );
    assert_eq!(v["errors"], 2, "{errors}");

    // A capture with one flipped bit in a middle block: that block is reported with its
    // offset and skipped, every other block is replayed, exit 1.
    assert!(run(&[
        "gen",
        "--seed",
        "3",
        "--messages",
        "150000",
        "-o",
        "day.itch"
    ])
    .status
    .success());
    assert!(run(&["record", "day.itch", "-o", "day.cap"])
        .status
        .success());
    let mut cap = std::fs::read(dir.path().join("day.cap")).unwrap();
    let mid = cap.len() / 2;
    cap[mid] ^= 0x10;
    std::fs::write(dir.path().join("flipped.cap"), cap).unwrap();
    let v = json_exit(&run(&["replay", "flipped.cap", "--json"]), 1);
    let err = v["first_errors"].to_string();
    assert!(err.contains("capture"), "{err}");
    let messages = v["messages"].as_u64().unwrap();
    assert!(messages > 50_000 && messages < 150_000, "{messages}");
    // What the reader recovered is in the run's notes, as `inspect` prints it.
    let notes = v["source_notes"].to_string();
    assert!(
        notes.contains("capture: ") && notes.contains("1 bad blocks (1 blocks missing"),
        "{notes}"
    );

    // Recording a file onto itself is refused before the input is touched.
    let before = std::fs::read(dir.path().join("day.itch")).unwrap();
    let o = run(&["record", "day.itch", "-o", "day.itch"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("both the input and the output"),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    assert_eq!(std::fs::read(dir.path().join("day.itch")).unwrap(), before);
    // Live-feed options on a file input are refused, not ignored.
    let o = run(&[
        "record",
        "day.itch",
        "-o",
        "other.cap",
        "--line-b",
        "udp://127.0.0.1:9",
    ]);
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("--line-b applies to live inputs"));
}

/// Runs `ticklane args` with its standard output a pipe whose reader is already gone (as with
/// `ticklane inspect FILE | head -0`): the exit code and standard error.
fn run_into_a_closed_pipe(args: &[&str], dir: &Path) -> (Option<i32>, String) {
    let mut child = spawn(args, dir);
    // The process is still starting (it has a file to read and a book to build before it
    // prints): closing the pipe's read end now makes its first write fail with EPIPE.
    drop(child.stdout.take());
    let o = child.wait_with_output().unwrap();
    (
        o.status.code(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
    )
}

#[test]
fn a_reader_that_closes_the_pipe_early_gets_no_panic_and_the_exit_code_still_tells() {
    let dir = tempfile::tempdir().unwrap();
    let gen = Command::new(BIN)
        .args([
            "gen",
            "--seed",
            "3",
            "--messages",
            "20000",
            "-o",
            "day.itch",
        ])
        .current_dir(dir.path())
        .output()
        .unwrap();
    assert!(gen.status.success());
    // Garbage after the session: the file reads with errors, so `inspect` owes exit 1.
    let mut bad = std::fs::read(dir.path().join("day.itch")).unwrap();
    bad.extend_from_slice(&[0, 5, b'?', 1, 2, 3, 4]);
    std::fs::write(dir.path().join("bad.itch"), bad).unwrap();
    for (args, code) in [
        (&["inspect", "day.itch"][..], 0),
        (&["inspect", "day.itch", "--json"][..], 0),
        (&["inspect", "bad.itch"][..], 1),
        (&["book", "day.itch", "--symbol", "AAPL"][..], 0),
        (&["book", "day.itch", "--symbol", "AAPL", "--json"][..], 0),
        (&["strategies"][..], 0),
    ] {
        let (got, stderr) = run_into_a_closed_pipe(args, dir.path());
        assert!(!stderr.contains("panicked"), "{args:?}: {stderr}");
        assert_eq!(got, Some(code), "{args:?}: {stderr}");
    }
}

/// `cert` never replaces a pair silently (a relay and its clients may be using it), writes the
/// private key readable by its owner only, and `--force` replaces both.
#[test]
fn cert_refuses_to_overwrite_without_force_and_keeps_the_key_private() {
    let dir = tempfile::tempdir().unwrap();
    let cert = |extra: &[&str]| {
        Command::new(BIN)
            .args(["cert", "--out", "certs"])
            .args(extra)
            .current_dir(dir.path())
            .output()
            .unwrap()
    };
    let (cert_pem, key_pem) = (
        dir.path().join("certs/cert.pem"),
        dir.path().join("certs/key.pem"),
    );
    let o = cert(&[]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let first = std::fs::read(&key_pem).unwrap();

    let o = cert(&[]);
    assert!(!o.status.success());
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("cert.pem exists") && err.contains("--force"),
        "{err}"
    );
    assert_eq!(std::fs::read(&key_pem).unwrap(), first, "key untouched");

    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        // An old key left world-readable is not kept so by --force.
        std::fs::set_permissions(&key_pem, std::fs::Permissions::from_mode(0o644)).unwrap();
    }
    let o = cert(&["--force"]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert_ne!(std::fs::read(&key_pem).unwrap(), first, "a new key");
    assert!(std::fs::read_to_string(&cert_pem)
        .unwrap()
        .contains("BEGIN CERTIFICATE"));
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&key_pem).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600, "key.pem mode {mode:o}");
    }
}

/// Ctrl-C stops a run part way; its report must say it is partial. A file
/// replay says so (`source_notes`: "stopped before the end of the file"); the generated
/// session (`run`, and `paper` without `--feed`) said nothing: the engine knows
/// (`FeedStats::stopped`), but neither the summary nor `--json`/`summary.json` carries it, so
/// a stopped run's report reads like a complete one.
#[test]
fn a_run_of_the_generated_session_stopped_by_ctrl_c_says_it_was_stopped() {
    let dir = tempfile::tempdir().unwrap();
    // 400,000 messages at 20,000 events a second: 20 s, stopped after 1.5 s.
    let run = spawn(
        &[
            "run",
            "--pace",
            "rate:20000",
            "--messages",
            "400000",
            "--out",
            "report",
            "--json",
        ],
        dir.path(),
    );
    std::thread::sleep(Duration::from_millis(1_500));
    interrupt(&run);
    let o = wait_at_most(run, Duration::from_secs(30), "run");
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert!(
        v["messages"].as_u64().unwrap() < 400_000,
        "stopped early: {v}"
    );
    let said = v["stopped"] == serde_json::Value::Bool(true)
        || v["source_notes"].to_string().contains("stopped");
    assert!(
        said,
        "a stopped run's report does not say it was stopped: stopped {}, source_notes {}, \
         dropped_on_stop {}",
        v["stopped"], v["source_notes"], v["dropped_on_stop"]
    );
}
