//! The CLI's edges (review): report files, output paths, the log filter, errors that name their
//! path, a reader that closes both output streams.

#![allow(clippy::unwrap_used)]

use std::path::Path;
use std::process::{Command, Output, Stdio};

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

/// `ticklane gen --seed SEED --messages N -o OUT` in `dir`, which must succeed.
/// `d1.itch` and `d2.itch` (seeds 1 and 2, 60,000 messages each, the same hours of the day)
/// and `two.itch`, the two days one after the other, in `dir`.
fn two_days(dir: &Path) {
    for (seed, out) in [("1", "d1.itch"), ("2", "d2.itch")] {
        generated(dir, seed, "60000", out);
    }
    let mut two = std::fs::read(dir.join("d1.itch")).unwrap();
    two.extend(std::fs::read(dir.join("d2.itch")).unwrap());
    std::fs::write(dir.join("two.itch"), two).unwrap();
}

fn generated(dir: &Path, seed: &str, messages: &str, out: &str) {
    let o = ticklane(
        &["gen", "--seed", seed, "--messages", messages, "-o", out],
        dir,
    );
    assert!(o.status.success(), "gen {out}: {}", stderr(&o));
}

/// A run into an `--out` directory that holds an earlier run's reports: every file there is
/// this run's. A `--no-latency` run writes no `.hgrm` file (no hop measured); the earlier run's
/// `.hgrm` files stayed, so the directory said figures this run never measured (its
/// `summary.json` says null).
#[test]
fn a_run_without_latency_leaves_no_earlier_runs_hgrm_files_in_its_out_dir() {
    let dir = tempfile::tempdir().unwrap();
    let run = |extra: &[&str]| {
        let mut a = vec!["run", "--messages", "20000", "--out", "out"];
        a.extend_from_slice(extra);
        let o = ticklane(&a, dir.path());
        assert!(o.status.success(), "{}", stderr(&o));
    };
    run(&[]);
    assert!(dir.path().join("out/decode.hgrm").exists());
    run(&["--no-latency"]);
    let hgrm: Vec<String> = std::fs::read_dir(dir.path().join("out"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".hgrm"))
        .collect();
    assert!(
        hgrm.is_empty(),
        "a run with no latency measured left {hgrm:?} in its --out directory"
    );
}

/// An `.hgrm` file that cannot be written whole fails the run: the files were `BufWriter`s
/// dropped without a flush, so a write error (a full disk; here a file-size limit) was
/// swallowed, the files were cut short and the run exited 0.
#[cfg(unix)]
#[test]
fn an_hgrm_file_that_cannot_be_written_whole_is_an_error_not_a_truncated_file() {
    let dir = tempfile::tempdir().unwrap();
    // A 1 KiB file-size limit (512-byte blocks in sh, 1 KiB in bash: 1-2 KiB), SIGXFSZ ignored
    // so that writes past it fail with EFBIG; stdout and stderr are pipes, not files.
    let o = Command::new("sh")
        .args([
            "-c",
            "ulimit -f 2; trap '' XFSZ; exec \"$0\" \"$@\"",
            BIN,
            "run",
            "--messages",
            "20000",
            "--hgrm",
            "h",
        ])
        .current_dir(dir.path())
        .output()
        .unwrap();
    let sizes: Vec<(String, u64)> = std::fs::read_dir(dir.path().join("h"))
        .unwrap()
        .map(|e| {
            let e = e.unwrap();
            (
                e.file_name().to_string_lossy().into_owned(),
                e.metadata().unwrap().len(),
            )
        })
        .collect();
    assert!(!sizes.is_empty());
    assert_ne!(
        o.status.code(),
        Some(0),
        "the .hgrm files were cut short ({sizes:?}) and the run said nothing: {}",
        stderr(&o)
    );
}

/// `--out` (or `--hgrm`) naming something that cannot be a directory (here an existing file):
/// found only after the whole run (a paper session: hours), which then exited 2 without
/// printing its summary. Either refuse it before the run starts or print the summary.
#[test]
fn an_out_directory_that_cannot_be_made_does_not_cost_the_runs_summary() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("taken"), "a file").unwrap();
    for flag in ["--out", "--hgrm"] {
        let o = ticklane(
            &[
                "--log",
                "info",
                "run",
                "--messages",
                "20000",
                "--no-latency",
                flag,
                "taken",
            ],
            dir.path(),
        );
        let (out, err) = (String::from_utf8_lossy(&o.stdout), stderr(&o));
        assert_eq!(o.status.code(), Some(2), "{flag}: {err}");
        // `source: ...` is logged when the engine starts.
        let ran = err.contains("source: generated session");
        assert!(
            !ran || out.contains("digest"),
            "{flag}: the run went to its end, then failed on `taken` with no summary: \
             stdout {out:?}, stderr {err}"
        );
    }
}

/// A reader that closes the pipe both output streams go to (`ticklane ... 2>&1 | head -1`):
/// no panic, the exit code the command earned. `eprintln!` panics on a broken pipe (101).
#[test]
fn a_closed_pipe_on_stderr_too_gets_no_panic_and_the_exit_code_still_tells() {
    let dir = tempfile::tempdir().unwrap();
    let gen = ticklane(
        &[
            "gen",
            "--seed",
            "3",
            "--messages",
            "20000",
            "-o",
            "day.itch",
        ],
        dir.path(),
    );
    assert!(gen.status.success());
    let mut bad = std::fs::read(dir.path().join("day.itch")).unwrap();
    bad.extend_from_slice(&[0, 5, b'?', 1, 2, 3, 4]);
    std::fs::write(dir.path().join("bad.itch"), bad).unwrap();
    for (args, code) in [
        (&["gen", "--messages", "2000", "-o", "g.itch"][..], 0),
        (&["inspect", "missing.itch"][..], 2),
        (&["run", "--file", "bad.itch", "--no-latency"][..], 1),
    ] {
        let mut child = Command::new(BIN)
            .args(args)
            .current_dir(dir.path())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        drop(child.stdout.take());
        drop(child.stderr.take());
        let status = child.wait().unwrap();
        assert_eq!(status.code(), Some(code), "{args:?}");
    }
}

/// A `--log` filter that does not parse is refused, naming the flag: it was replaced by `warn`
/// without a word, so `--log ticklane=verbose` showed nothing and exited 0.
#[test]
fn a_log_filter_that_does_not_parse_is_refused_not_replaced_silently() {
    let dir = tempfile::tempdir().unwrap();
    for filter in ["ticklane=verbose", "info,ticklane=verbose"] {
        let o = ticklane(&["--log", filter, "strategies"], dir.path());
        assert_eq!(o.status.code(), Some(2), "--log {filter}: {}", stderr(&o));
        assert!(stderr(&o).contains("--log"), "{}", stderr(&o));
    }
}

/// A missing file given on the command line is named as the argument it came from: the error
/// named the embedded configuration's `source.file` key, which the user never wrote.
#[test]
fn a_missing_source_names_the_argument_not_the_embedded_configuration() {
    let dir = tempfile::tempdir().unwrap();
    for args in [
        &["replay", "nope.itch"][..],
        &["run", "--file", "nope.itch"][..],
    ] {
        let o = ticklane(args, dir.path());
        assert_eq!(o.status.code(), Some(2));
        let err = stderr(&o);
        assert!(err.contains("nope.itch"), "{err}");
        assert!(
            !err.contains("source.file") && !err.contains("(embedded)"),
            "{args:?}: {err}"
        );
    }
}

/// A directory given as the input file: the error names it ("Is a directory" alone).
#[test]
fn a_directory_as_input_is_named_in_the_error() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("adir")).unwrap();
    for args in [
        &["inspect", "adir"][..],
        &["record", "adir", "-o", "x.cap"][..],
        &["replay", "adir", "--no-latency"][..],
    ] {
        let o = ticklane(args, dir.path());
        assert_eq!(o.status.code(), Some(2), "{args:?}");
        let err = stderr(&o);
        assert!(err.contains("adir"), "{args:?}: {err}");
    }
}

/// Log lines on a stderr that is not a terminal (a file, a pipe, CI) carry no ANSI escapes.
#[test]
fn logs_to_a_non_terminal_have_no_colour_codes() {
    let dir = tempfile::tempdir().unwrap();
    let o = ticklane(
        &["--log", "info", "gen", "--messages", "2000", "-o", "g.itch"],
        dir.path(),
    );
    assert!(o.status.success());
    let err = stderr(&o);
    assert!(err.contains("session written"), "{err}");
    assert!(!err.contains('\u{1b}'), "{err:?}");
}

/// `bench --passes 0` is refused (it ran one pass and said "best of 1"), and `inspect` names a
/// gzip file's format in words (it printed `binarygzip`, the enum's name lower-cased).
#[test]
fn bench_refuses_zero_passes_and_inspect_names_gzip_in_words() {
    let dir = tempfile::tempdir().unwrap();
    let o = ticklane(
        &["bench", "--messages", "20000", "--passes", "0"],
        dir.path(),
    );
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(stderr(&o).contains("--passes"), "{}", stderr(&o));
    let gen = ticklane(
        &["gen", "--seed", "3", "--messages", "2000", "-o", "day.itch"],
        dir.path(),
    );
    assert!(gen.status.success());
    let raw = std::fs::read(dir.path().join("day.itch")).unwrap();
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    std::io::Write::write_all(&mut gz, &raw).unwrap();
    std::fs::write(dir.path().join("day.itch.gz"), gz.finish().unwrap()).unwrap();
    let o = ticklane(&["inspect", "--json", "day.itch.gz"], dir.path());
    assert!(o.status.success(), "{}", stderr(&o));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["format"], "binary (gzip)", "{v}");
    assert_eq!(v["messages"], 2000, "{v}");
}

/// `serve SOURCE` takes any SOURCE that merely *starts with* `generated` for the
/// embedded session: a file `generated-day.itch` in the working directory is refused with
/// "generated:SEED: invalid digit found in string" (naming a keyword the user never typed), and
/// `generated:7:20000:junk` is served as `generated:7:20000`, the rest ignored silently.
#[test]
fn serve_takes_a_file_named_generated_something_as_that_file() {
    let dir = tempfile::tempdir().unwrap();
    let o = ticklane(
        &[
            "gen",
            "--messages",
            "2000",
            "--instruments",
            "2",
            "-o",
            "generated-day.itch",
        ],
        dir.path(),
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let sink = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    let to = sink.local_addr().unwrap().to_string();
    let serve = |source: &str| {
        ticklane(
            &[
                "serve",
                source,
                "--to",
                &to,
                "--retransmit",
                "127.0.0.1:0",
                "--speed",
                "max",
                "--linger",
                "0",
            ],
            dir.path(),
        )
    };
    let o = serve("generated-day.itch");
    assert!(
        o.status.success(),
        "the file was not served: {}",
        stderr(&o)
    );
    assert!(
        String::from_utf8_lossy(&o.stdout).contains("published 2000 messages"),
        "{}",
        String::from_utf8_lossy(&o.stdout)
    );
    let o = serve("generated:7:20000:junk");
    assert_eq!(
        o.status.code(),
        Some(2),
        "a source with a fourth part was accepted: {}",
        String::from_utf8_lossy(&o.stdout)
    );
}

/// `serve --to 127.0.0.1:P --line-b HOST:P` (line A on loopback, line B to
/// another host) fails at the first send on line B ("line B cannot send to ...: Invalid
/// argument"): the publishing socket is bound to 127.0.0.1 because *line A* is loopback
/// (`SimConfig::new` looks at line A only; `serve` sets line B afterwards). The same two lines
/// the other way round (`--to HOST:P --line-b 127.0.0.1:P`) work.
#[test]
fn serve_sends_on_both_lines_whichever_of_them_is_the_loopback_one() {
    let dir = tempfile::tempdir().unwrap();
    let sink = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    let local = sink.local_addr().unwrap().to_string();
    // TEST-NET-1: a host that is not this one (as in simulator.rs's unit tests).
    let remote = "192.0.2.1:9";
    let serve = |a: &str, b: &str| {
        ticklane(
            &[
                "serve",
                "generated:7:20000",
                "--to",
                a,
                "--line-b",
                b,
                "--retransmit",
                "127.0.0.1:0",
                "--speed",
                "max",
                "--linger",
                "0",
            ],
            dir.path(),
        )
    };
    let remote_first = serve(remote, &local);
    if !remote_first.status.success() {
        eprintln!(
            "no route to {remote} here: nothing to compare ({})",
            stderr(&remote_first)
        );
        return;
    }
    let local_first = serve(&local, remote);
    assert!(
        local_first.status.success(),
        "line A on loopback, line B to {remote}: {}",
        stderr(&local_first)
    );
}

/// The report directories are made before the run, but a command refused
/// before it starts (a SOURCE that does not exist) must not leave a new, empty `--out`
/// directory behind.
#[test]
fn a_refused_replay_makes_no_out_directory() {
    let dir = tempfile::tempdir().unwrap();
    let o = ticklane(&["replay", "nope.itch", "--out", "newout"], dir.path());
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(stderr(&o).contains("does not exist"), "{}", stderr(&o));
    assert!(
        !dir.path().join("newout").exists(),
        "a refused replay created its --out directory: {}",
        stderr(&o)
    );
}

/// `bench --file` on an input that is not a NASDAQ binary ITCH file said only "decode: N
/// errors": the message names the file, the format bench reads, and where to look.
#[test]
fn bench_of_a_file_in_another_format_names_the_file_and_the_format() {
    let dir = tempfile::tempdir().unwrap();
    // A text file: its bytes frame as nonsense lengths and types.
    std::fs::write(
        dir.path().join("notes.txt"),
        "this is not ITCH\n".repeat(64),
    )
    .unwrap();
    let o = ticklane(
        &["bench", "--file", "notes.txt", "--passes", "1"],
        dir.path(),
    );
    assert!(!o.status.success());
    let err = stderr(&o);
    assert!(
        err.contains("notes.txt")
            && err.contains("NASDAQ binary ITCH")
            && err.contains("ticklane inspect notes.txt"),
        "{err}"
    );
}

/// `bench` on an input with no messages (an empty `--file`) printed a time
/// per message for every stage: the whole pass's time over `max(1)` messages (13605 ns/msg for
/// decoding nothing, 1.2 ms/msg for the lane). With no message there is no time per message:
/// 0 (or a refusal), as messages/s and MB/s already say.
#[test]
fn bench_of_an_input_without_messages_reports_no_time_per_message() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("empty.itch"), b"").unwrap();
    let o = ticklane(
        &["bench", "--file", "empty.itch", "--passes", "1", "--json"],
        dir.path(),
    );
    if !o.status.success() {
        // Refusing an input without messages is as good.
        return;
    }
    let rows: Vec<serde_json::Value> = serde_json::from_slice(&o.stdout).unwrap();
    for r in &rows {
        assert_eq!(r["messages"], 0, "{r}");
        assert_eq!(
            r["ns_per_message"].as_f64().unwrap_or(0.0),
            0.0,
            "stage {}: a time per message with no message",
            r["stage"]
        );
    }
}

/// A measured run in which no event reached a lane (`--to` before the first
/// event, an empty file) said "latency   not measured (engine.latency = false, or
/// --no-latency)": it blamed a setting the user never changed. Latency was on; there was no
/// sample.
#[test]
fn a_measured_run_without_samples_does_not_blame_the_latency_setting() {
    let dir = tempfile::tempdir().unwrap();
    generated(dir.path(), "7", "20000", "day.itch");
    std::fs::write(dir.path().join("empty.itch"), b"").unwrap();
    for args in [
        &["replay", "day.itch", "--to", "00:00:01"][..],
        &["run", "--file", "empty.itch"][..],
    ] {
        let o = ticklane(args, dir.path());
        assert!(o.status.success(), "{args:?}: {}", stderr(&o));
        let out = String::from_utf8_lossy(&o.stdout);
        let line = out
            .lines()
            .find(|l| l.starts_with("latency"))
            .unwrap_or_default();
        assert!(
            !line.contains("engine.latency = false, or --no-latency"),
            "{args:?}: latency was on, yet: {line:?}"
        );
    }
}

/// A configuration whose source is a live feed that never sends: the run ends after 0.3 s of
/// silence.
fn quiet_live_config(dir: &Path) -> String {
    let path = dir.join("live.toml");
    std::fs::write(
        &path,
        "[source.live]\nfeed = \"udp://127.0.0.1:0\"\nstop_after_silence_s = 0.3\n",
    )
    .unwrap();
    path.to_str().unwrap().to_string()
}

/// `--pace` with the configuration's `[source.live]` as the source: an invalid value was not
/// checked at all (`--pace slow` ran, exit 0), and a valid one was dropped without a word,
/// while `paper --feed ... --pace 10x` is refused ("--pace does not apply to --feed").
#[test]
fn a_pace_flag_with_a_configured_live_feed_is_checked_and_not_ignored() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = quiet_live_config(dir.path());
    let o = ticklane(&["run", &cfg, "--pace", "slow"], dir.path());
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        !o.status.success() && err.contains("--pace"),
        "run --pace slow: exit {:?}, stderr:\n{err}",
        o.status.code()
    );
    let out = dir.path().join("report");
    let o = ticklane(
        &[
            "paper",
            "--config",
            &cfg,
            "--pace",
            "10x",
            "--out",
            out.to_str().unwrap(),
            "--json",
        ],
        dir.path(),
    );
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        !o.status.success() && err.contains("--pace"),
        "paper --pace 10x with [source.live]: exit {:?}, stderr:\n{err}",
        o.status.code()
    );
}

/// `replay --symbols` took symbols the configuration refuses in `[[strategy]] symbols` because
/// no feed sends them (a space or a control character): the replay matched no instrument and
/// exited 0 with the market-wide events only.
#[test]
fn replay_symbols_a_feed_never_sends_are_refused_like_the_configuration_does() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("s.itch");
    let f = file.to_str().unwrap();
    let gen = ticklane(
        &["gen", "--seed", "3", "--messages", "20000", "--output", f],
        dir.path(),
    );
    assert!(gen.status.success());
    for sym in [" AAPL", "AA PL", "AAPL\t", ""] {
        let o = ticklane(&["replay", f, "--symbols", sym, "--json"], dir.path());
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(
            !o.status.success() && err.contains("--symbols"),
            "--symbols {sym:?}: exit {:?}, stderr: {err}",
            o.status.code()
        );
    }
}

/// A run that measured latency but whose lanes saw no event said "not measured
/// (engine.latency = false, or --no-latency)", blaming a key and a flag nobody set.
#[test]
fn an_empty_run_does_not_blame_engine_latency() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = quiet_live_config(dir.path());
    let o = ticklane(&["run", &cfg], dir.path());
    assert!(o.status.success());
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(
        !out.contains("engine.latency = false, or --no-latency"),
        "latency was on (engine.latency defaults to true, no --no-latency):\n{out}"
    );
}

/// `serve --linger` is "seconds to keep answering re-requests after the end of session": a
/// negative or NaN value is not a number of seconds, and was taken silently as 0 (the server
/// stopped answering at the end of session), where the other live durations
/// (`--stop-after-silence`, ...) are refused by name.
#[test]
fn serve_refuses_a_linger_that_is_not_a_number_of_seconds() {
    let dir = tempfile::tempdir().unwrap();
    let sink = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    let to = sink.local_addr().unwrap().to_string();
    for bad in ["-5", "NaN"] {
        let linger = format!("--linger={bad}");
        let o = ticklane(
            &[
                "serve",
                "generated:7:2000",
                "--to",
                &to,
                "--retransmit",
                "127.0.0.1:0",
                "--speed",
                "max",
                &linger,
            ],
            dir.path(),
        );
        assert!(
            !o.status.success() && stderr(&o).contains("--linger"),
            "{linger}: exit {:?}, stderr: {}",
            o.status.code(),
            stderr(&o)
        );
    }
}

/// README's CLI block gives `serve --max-packet` and its "What happens to a bad feed" says the
/// receiver then "needs `--max-packet`"; every receiver that has the flag (`paper`, `record`,
/// `relay`: their `--help` lists it) must list it in its usage line too.
#[test]
fn the_readme_usage_lines_list_max_packet_for_every_receiver_that_has_it() {
    let readme =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("README.md")).unwrap();
    let block = readme
        .split("## The CLI\n\n```sh\n")
        .nth(1)
        .unwrap()
        .split("```")
        .next()
        .unwrap();
    let mut missing = Vec::new();
    for cmd in ["paper", "record", "relay", "serve"] {
        let help = ticklane(&[cmd, "--help"], Path::new("."));
        assert!(String::from_utf8_lossy(&help.stdout).contains("--max-packet"));
        // The command's usage line and its continuation lines (indented).
        let mut usage = String::new();
        let mut inside = false;
        for line in block.lines() {
            if line.starts_with("ticklane ") {
                inside = line.starts_with(&format!("ticklane {cmd} "));
            }
            if inside {
                usage.push_str(line);
            }
        }
        if !usage.contains("--max-packet") {
            missing.push(cmd);
        }
    }
    assert!(
        missing.is_empty(),
        "README usage lines without --max-packet (which their --help has): {missing:?}"
    );
}

/// config/README.md lists the `[source.live]` keys `live.toml` sets; every key that
/// `config/live.toml` documents in that table (set or commented out) must be in the list.
#[test]
fn config_readme_lists_every_source_live_key_of_live_toml() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let toml = std::fs::read_to_string(root.join("config/live.toml")).unwrap();
    let readme = std::fs::read_to_string(root.join("config/README.md")).unwrap();
    let row = readme
        .lines()
        .find(|l| l.starts_with("| `live.toml`"))
        .unwrap();
    let table = toml
        .split("[source.live]\n")
        .nth(1)
        .unwrap()
        .split("\n[")
        .next()
        .unwrap();
    let missing: Vec<&str> = table
        .lines()
        .filter_map(|l| {
            let l = l.trim_start_matches("# ");
            let (key, _) = l.split_once(" = ")?;
            key.chars()
                .all(|c| c.is_ascii_lowercase() || c == '_')
                .then_some(key)
        })
        .filter(|key| !row.contains(&format!("`{key}`")))
        .collect();
    assert!(
        missing.is_empty(),
        "config/README.md's live.toml row leaves out {missing:?}"
    );
}

/// `s.pcap`, a generated session of `messages` messages, and `s.cap`, its recording, in `d`.
fn pcap_and_its_capture(d: &Path, messages: u32) {
    let n = messages.to_string();
    let o = ticklane(
        &["gen", "--messages", &n, "--format", "pcap", "-o", "s.pcap"],
        d,
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let o = ticklane(&["record", "s.pcap", "-o", "s.cap"], d);
    assert!(o.status.success(), "{}", stderr(&o));
}

/// `record -o OUT` and `export -o OUT` write an output that is a device or a link to one
/// (`/dev/full`, `/dev/stdout`) through, and see its errors. They wrote `OUT.PID.partial` and
/// renamed it over OUT whatever OUT was: a full disk was never seen (exit 0, "recorded ...
/// bytes"), and, run as root with `-o /dev/full`, the device node itself was replaced. Here
/// a link to `/dev/full` stands for the device (a test must not replace /dev/full).
#[cfg(unix)]
#[test]
fn record_and_export_to_a_full_device_report_the_full_disk_and_keep_the_output_path() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    pcap_and_its_capture(d, 5000);
    for args in [
        &["record", "s.pcap", "-o", "full"][..],
        &["export", "s.cap", "-o", "full"][..],
    ] {
        let _ = std::fs::remove_file(d.join("full"));
        std::os::unix::fs::symlink("/dev/full", d.join("full")).unwrap();
        let o = ticklane(args, d);
        let still_a_link = std::fs::symlink_metadata(d.join("full"))
            .unwrap()
            .file_type()
            .is_symlink();
        assert!(
            o.status.code() == Some(2) && stderr(&o).contains("No space left") && still_a_link,
            "{args:?}: exit {:?}, stderr {:?}, stdout {:?}; the output is still the link to \
             /dev/full: {still_a_link}",
            o.status.code(),
            stderr(&o),
            String::from_utf8_lossy(&o.stdout)
        );
    }
}

/// A write error names the file that could not be written. `record` and `export` named their
/// *input* ("recording s.pcap: I/O error at offset 114: File too large",
/// "exporting s.cap: writing datagram 727: ..."), `gen` and `run --out` named no file at all
/// ("error: No space left on device"). A file-size limit (SIGXFSZ ignored) stands for a full
/// disk; `gen -o /dev/full` is the real thing.
#[cfg(unix)]
#[test]
fn a_write_error_names_the_output_file_not_the_input() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    pcap_and_its_capture(d, 20_000);
    let limited = |args: &[&str]| {
        Command::new("sh")
            .args(["-c", "ulimit -f 40; trap '' XFSZ; exec \"$0\" \"$@\"", BIN])
            .args(args)
            .current_dir(d)
            .output()
            .unwrap()
    };
    let mut wrong = Vec::new();
    for (o, out) in [
        (
            ticklane(&["gen", "--messages", "2000", "-o", "/dev/full"], d),
            "/dev/full",
        ),
        (limited(&["record", "s.pcap", "-o", "out.cap"]), "out.cap"),
        (limited(&["export", "s.cap", "-o", "out.pcap"]), "out.pcap"),
        (
            limited(&["run", "--messages", "20000", "--out", "rep"]),
            "rep/",
        ),
    ] {
        let err = stderr(&o);
        if o.status.success() || !err.contains(out) {
            wrong.push(format!("{out}: exit {:?}, {err:?}", o.status.code()));
        }
    }
    assert!(
        wrong.is_empty(),
        "write errors that do not name the file written:\n{}",
        wrong.join("\n")
    );
}

/// A run whose reports cannot be written into a reused `--out` directory (a full disk; here a
/// file-size limit) fails with its `orders.csv` cut short, and leaves no `summary.json`: it
/// left the earlier run's (and its `.hgrm`, `.svg`) beside the cut files, a complete-looking
/// summary of another run.
#[cfg(unix)]
#[test]
fn a_report_write_error_leaves_no_earlier_runs_summary_beside_the_cut_files() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let o = ticklane(&["run", "--messages", "20000", "--out", "rep"], d);
    assert!(o.status.success(), "{}", stderr(&o));
    let earlier = std::fs::read(d.join("rep/summary.json")).unwrap();
    let o = Command::new("sh")
        .args(["-c", "ulimit -f 4; trap '' XFSZ; exec \"$0\" \"$@\"", BIN])
        .args(["run", "--messages", "30000", "--out", "rep"])
        .current_dir(d)
        .output()
        .unwrap();
    assert_ne!(o.status.code(), Some(0), "{}", stderr(&o));
    let now = std::fs::read(d.join("rep/summary.json")).ok();
    assert!(
        now.as_deref() != Some(&earlier[..]),
        "the failed run ({}) left the earlier run's summary.json in rep/ beside its cut \
         orders.csv ({} bytes)",
        stderr(&o).trim(),
        std::fs::metadata(d.join("rep/orders.csv")).map_or(0, |m| m.len())
    );
}

/// A FIFO as the input is refused at once, naming it: every command opens its input more than
/// once (its format first), which a pipe cannot give. `bbo` and `record` hung: the first look
/// closed the pipe, its writer died, and the second open waited for a writer for ever.
#[cfg(unix)]
#[test]
fn a_fifo_as_input_is_refused_by_name_not_a_hang() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let o = ticklane(&["gen", "--messages", "20000", "-o", "s.itch"], d);
    assert!(o.status.success(), "{}", stderr(&o));
    let data = std::fs::read(d.join("s.itch")).unwrap();
    let mut wrong = Vec::new();
    for (k, args) in [
        &["bbo", "--symbol", "AAPL"][..],
        &["record", "-o", "f.cap"][..],
        &["inspect"][..],
        &["replay"][..],
        &["export", "-o", "f.pcap"][..],
    ]
    .into_iter()
    .enumerate()
    {
        let fifo = d.join(format!("fifo{k}"));
        let st = Command::new("mkfifo").arg(&fifo).status().unwrap();
        assert!(st.success());
        // The writer: `cat s.itch > fifo` (its open waits for a reader).
        let (f2, bytes) = (fifo.clone(), data.clone());
        let writer = std::thread::spawn(move || {
            use std::io::Write;
            if let Ok(mut w) = std::fs::OpenOptions::new().write(true).open(&f2) {
                let _ = w.write_all(&bytes);
            }
        });
        let mut child = Command::new(BIN)
            .args(args)
            .arg(&fifo)
            .current_dir(d)
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        // Up to about 10 s (a hang, not a speed: the refusal needs no reading at all).
        let mut status = None;
        for _ in 0..200 {
            if let Some(s) = child.try_wait().unwrap() {
                status = Some(s);
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
        if status.is_none() {
            child.kill().unwrap();
        }
        let out = child.wait_with_output().unwrap();
        let err = String::from_utf8_lossy(&out.stderr).into_owned();
        if status.is_none_or(|s| s.code() != Some(2))
            || !err.contains(&format!("fifo{k} is not a regular file"))
        {
            wrong.push(format!("{args:?}: exit {status:?}, {err:?}"));
        }
        // Let the writer go: a reader opens the pipe, and closes it.
        {
            use std::os::unix::fs::OpenOptionsExt;
            let _ = std::fs::OpenOptions::new()
                .read(true)
                .custom_flags(libc_nonblock())
                .open(&fifo);
        }
        writer.join().unwrap();
    }
    assert!(
        wrong.is_empty(),
        "a FIFO as the input:\n{}",
        wrong.join("\n")
    );
}

/// `O_NONBLOCK` on Linux (the test avoids a `libc` dependency for one flag).
#[cfg(unix)]
fn libc_nonblock() -> i32 {
    0o4000
}

/// Two trading days in one binary file (two generated days, one after the other: ITCH times
/// restart at midnight, references at 1): day 2's start of messages empties the books, so
/// every book at the end is the book of day 2 alone, and the lanes count no anomaly (day 2's
/// references were duplicates of day 1's live orders: 9,528 duplicate ids and crossed books
/// on two 200,000-message days). The run gives one digest on one lane and on two.
#[test]
fn a_second_day_in_one_file_starts_from_empty_books() {
    let dir = tempfile::tempdir().unwrap();
    two_days(dir.path());
    let book = |file: &str, symbol: &str| {
        let o = ticklane(
            &[
                "book", file, "--symbol", symbol, "--depth", "1000", "--json",
            ],
            dir.path(),
        );
        assert!(o.status.success(), "{file} {symbol}: {}", stderr(&o));
        let mut v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
        // The messages read and the day differ (day 1's are read too, and the book is of the
        // second day of two); everything else must not.
        let day = v.as_object_mut().unwrap().remove("day");
        assert_eq!(day, Some(if file == "two.itch" { 2 } else { 1 }.into()));
        v.as_object_mut().unwrap().remove("messages");
        v
    };
    for symbol in ["AAPL", "MSFT", "NVDA", "TSLA"] {
        assert_eq!(
            book("two.itch", symbol),
            book("d2.itch", symbol),
            "{symbol}"
        );
    }
    let replay = |lanes: &str| {
        let o = ticklane(
            &[
                "replay",
                "two.itch",
                "--lanes",
                lanes,
                "--no-latency",
                "--json",
            ],
            dir.path(),
        );
        assert!(o.status.success(), "{}", stderr(&o));
        serde_json::from_slice::<serde_json::Value>(&o.stdout).unwrap()
    };
    let (one, two_lanes) = (replay("1"), replay("2"));
    assert_eq!(one["digest"], two_lanes["digest"]);
    for v in [&one, &two_lanes] {
        for lane in v["lanes"].as_array().unwrap() {
            assert_eq!(lane["anomalies"], serde_json::json!({}), "{lane}");
        }
    }
}

/// `book --day N` on a file of two trading days: day 1's book at its end (before day 2's
/// start of messages empties it) and at a time of day 1, day 2's at a time of day 2, each the
/// book that day's file alone gives; `bbo --day N`, the lines of that day's file alone; a
/// third day is refused, naming the days the file has.
/// Without `--day`, `--at` stops at the first message past it (on day 1): day 2's books at a
/// time could not be read at all.
#[test]
fn book_and_bbo_of_one_day_of_a_file_of_two() {
    let dir = tempfile::tempdir().unwrap();
    two_days(dir.path());
    let book = |args: &[&str]| {
        let mut all = vec!["book", "--symbol", "MSFT", "--depth", "1000", "--json"];
        all.extend_from_slice(args);
        let o = ticklane(&all, dir.path());
        assert!(o.status.success(), "{args:?}: {}", stderr(&o));
        let mut v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
        let day = v["day"].clone();
        // The messages read and the day differ (day 1's are read too); nothing else may.
        let m = v.as_object_mut().unwrap();
        m.remove("messages");
        m.remove("day");
        (v, day)
    };
    // The two days' times: the generated sessions span the same hours.
    let at = "12:00:00";
    let d1_end = book(&["d1.itch"]).0;
    assert!(d1_end["orders"].as_u64().unwrap() > 0, "{d1_end}");
    assert_eq!(book(&["two.itch", "--day", "1"]), (d1_end, 1.into()));
    assert_eq!(
        book(&["two.itch", "--day", "1", "--at", at]),
        (book(&["d1.itch", "--at", at]).0, 1.into())
    );
    let d2_noon = book(&["d2.itch", "--at", at]).0;
    assert_eq!(
        book(&["two.itch", "--day", "2", "--at", at]),
        (d2_noon.clone(), 2.into())
    );
    assert_ne!(book(&["two.itch", "--at", at]).0, d2_noon);
    assert_eq!(
        book(&["two.itch", "--day", "2"]),
        (book(&["d2.itch"]).0, 2.into())
    );
    // `bbo --day N`: that day's lines, as the day's own file gives them.
    let bbo = |args: &[&str]| {
        let mut all = vec!["bbo", "--symbol", "MSFT"];
        all.extend_from_slice(args);
        let o = ticklane(&all, dir.path());
        assert!(o.status.success(), "{args:?}: {}", stderr(&o));
        String::from_utf8(o.stdout).unwrap()
    };
    let (d1, d2) = (bbo(&["d1.itch"]), bbo(&["d2.itch"]));
    assert!(d1.lines().count() > 100 && d2.lines().count() > 100);
    assert_eq!(bbo(&["two.itch", "--day", "1"]), d1);
    assert_eq!(bbo(&["two.itch", "--day", "2"]), d2);
    for command in ["book", "bbo"] {
        let o = ticklane(
            &[command, "two.itch", "--symbol", "MSFT", "--day", "3"],
            dir.path(),
        );
        assert!(!o.status.success());
        assert!(
            stderr(&o).contains("--day 3") && stderr(&o).contains("has 2 trading days"),
            "{command}: {}",
            stderr(&o)
        );
    }
}

/// A file whose first start of messages follows the evening's end of messages alone (a
/// capture started the day before): a start of messages after any event begins a day, so the
/// run and `book --day` both count two days (the run said two, `book --day 2` said the file
/// had one: every report row said day 2 of a file `book` saw as one day).
#[test]
fn book_and_the_run_count_the_days_of_a_file_alike() {
    let dir = tempfile::tempdir().unwrap();
    generated(dir.path(), "3", "30000", "day.itch");
    // `S` `C` at 20:05:00: length 12, type, locate 0, tracking 0, 6-byte time, code.
    let mut file = vec![0, 12, b'S', 0, 0, 0, 0];
    file.extend_from_slice(&72_300_000_000_000u64.to_be_bytes()[2..]);
    file.push(b'C');
    file.extend(std::fs::read(dir.path().join("day.itch")).unwrap());
    std::fs::write(dir.path().join("late.itch"), file).unwrap();
    let o = ticklane(
        &["replay", "late.itch", "--no-latency", "--json"],
        dir.path(),
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["days"], 2, "the run's days");
    let book = |file: &str, day: Option<&str>| {
        let mut args = vec!["book", file, "--symbol", "AAPL", "--json"];
        if let Some(d) = day {
            args.extend(["--day", d]);
        }
        let o = ticklane(&args, dir.path());
        assert!(o.status.success(), "{args:?}: {}", stderr(&o));
        let mut v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
        let m = v.as_object_mut().unwrap();
        m.remove("messages");
        m.remove("day");
        v
    };
    assert_eq!(book("late.itch", Some("2")), book("day.itch", None));
    let o = ticklane(
        &["book", "late.itch", "--symbol", "AAPL", "--day", "3"],
        dir.path(),
    );
    assert!(stderr(&o).contains("has 2 trading days"), "{}", stderr(&o));
}

/// `replay SOURCE --config FILE` and `run CONFIG --file F`: the command line gives the source,
/// so a configuration of strategies alone is taken (it was refused, "missing field `source`",
/// though `--config` is documented as "strategies, engine"); with no source anywhere the run
/// is refused naming `source`.
#[test]
fn a_configuration_without_a_source_takes_the_command_lines() {
    let dir = tempfile::tempdir().unwrap();
    generated(dir.path(), "4", "20000", "day.itch");
    std::fs::write(
        dir.path().join("strategies.toml"),
        "[[strategy]]\nname = \"imb-aapl\"\nkind = \"imbalance\"\nsymbols = [\"AAPL\"]\n",
    )
    .unwrap();
    let digest = |args: &[&str]| {
        let o = ticklane(args, dir.path());
        assert!(o.status.success(), "{args:?}: {}", stderr(&o));
        let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
        assert_eq!(v["strategies"][0]["name"], "imb-aapl", "{v}");
        v["digest"].clone()
    };
    let replayed = digest(&[
        "replay",
        "day.itch",
        "--config",
        "strategies.toml",
        "--no-latency",
        "--json",
    ]);
    let run = digest(&[
        "run",
        "strategies.toml",
        "--file",
        "day.itch",
        "--no-latency",
        "--json",
    ]);
    assert_eq!(replayed, run);
    let o = ticklane(&["run", "strategies.toml"], dir.path());
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("strategies.toml: source:"),
        "{}",
        stderr(&o)
    );
}

/// `book --day 2` and `bbo --day 2` of a file of two days whose day 1 raised an
/// anomaly in MSFT's book (a delete sent twice): day 2's book and anomalies are those day 2's
/// own file gives (the counts by stock locate and the feed's total ran across days: day 1's
/// anomaly was said of day 2's MSFT, and of whichever symbol day 2 gave that locate).
#[test]
fn book_and_bbo_of_day_two_do_not_report_day_one_s_anomalies() {
    let dir = tempfile::tempdir().unwrap();
    two_days(dir.path());
    // Day 1 with its first delete in locate 2 (MSFT) sent twice: one unknown order deleted.
    let d1 = std::fs::read(dir.path().join("d1.itch")).unwrap();
    let mut bad = Vec::with_capacity(d1.len() + 64);
    let (mut at, mut done) = (0, false);
    while at + 2 <= d1.len() {
        let len = usize::from(u16::from_be_bytes([d1[at], d1[at + 1]]));
        let m = &d1[at..at + 2 + len];
        bad.extend_from_slice(m);
        if !done && m[2] == b'D' && u16::from_be_bytes([m[3], m[4]]) == 2 {
            bad.extend_from_slice(m);
            done = true;
        }
        at += 2 + len;
    }
    assert!(done);
    bad.extend(std::fs::read(dir.path().join("d2.itch")).unwrap());
    std::fs::write(dir.path().join("two.itch"), bad).unwrap();
    let book = |args: &[&str]| {
        let mut all = vec!["book", "--symbol", "MSFT", "--json"];
        all.extend_from_slice(args);
        let o = ticklane(&all, dir.path());
        assert!(o.status.success(), "{args:?}: {}", stderr(&o));
        let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
        (v["anomalies"].clone(), v["feed_anomalies"].clone())
    };
    assert_eq!(
        book(&["two.itch", "--day", "2"]),
        book(&["d2.itch"]),
        "day 2's anomalies (instrument's, feed's)"
    );
    let bbo_err = |args: &[&str]| {
        let mut all = vec!["bbo", "--symbol", "MSFT"];
        all.extend_from_slice(args);
        let o = ticklane(&all, dir.path());
        assert!(o.status.success(), "{args:?}: {}", stderr(&o));
        stderr(&o)
            .lines()
            .filter(|l| l.starts_with("anomalies"))
            .map(str::to_string)
            .collect::<Vec<_>>()
    };
    assert_eq!(bbo_err(&["two.itch", "--day", "2"]), bbo_err(&["d2.itch"]));
}

/// `bbo` of a whole file of two days (no `--day`) whose day 2 gives AAPL and MSFT each other's
/// stock locates, and whose day 1 raised an anomaly in MSFT's book (a delete sent twice, at
/// locate 2). The anomaly is MSFT's: `bbo --symbol MSFT` must say so, and `bbo --symbol AAPL`
/// must not (AAPL had none on either day), as the bbo of each day's own file says.
#[test]
fn bbo_of_a_whole_file_of_two_days_says_each_anomaly_of_its_own_symbol() {
    let dir = tempfile::tempdir().unwrap();
    two_days(dir.path());
    // Each message of `bytes` (2-byte lengths), with `f` applied to its locate; the first
    // delete at locate 2 sent twice when `dup`.
    let rewrite = |bytes: &[u8], dup: bool, f: &dyn Fn(u16) -> u16| {
        let mut out = Vec::with_capacity(bytes.len() + 64);
        let (mut at, mut done) = (0, !dup);
        while at + 2 <= bytes.len() {
            let len = usize::from(u16::from_be_bytes([bytes[at], bytes[at + 1]]));
            let mut m = bytes[at..at + 2 + len].to_vec();
            let locate = u16::from_be_bytes([m[3], m[4]]);
            m[3..5].copy_from_slice(&f(locate).to_be_bytes());
            out.extend_from_slice(&m);
            if !done && m[2] == b'D' && locate == 2 {
                out.extend_from_slice(&m);
                done = true;
            }
            at += 2 + len;
        }
        out
    };
    let d1 = rewrite(
        &std::fs::read(dir.path().join("d1.itch")).unwrap(),
        true,
        &|l| l,
    );
    let swap = |l: u16| match l {
        1 => 2,
        2 => 1,
        l => l,
    };
    let d2 = rewrite(
        &std::fs::read(dir.path().join("d2.itch")).unwrap(),
        false,
        &swap,
    );
    std::fs::write(dir.path().join("bad1.itch"), &d1).unwrap();
    std::fs::write(dir.path().join("sw2.itch"), &d2).unwrap();
    let mut two = d1;
    two.extend(d2);
    std::fs::write(dir.path().join("two.itch"), two).unwrap();
    let own = |symbol: &str, file: &str| {
        let o = ticklane(&["bbo", "--symbol", symbol, file], dir.path());
        assert!(o.status.success(), "{symbol} {file}: {}", stderr(&o));
        stderr(&o)
            .lines()
            .filter(|l| l.starts_with("anomalies:"))
            .map(str::to_string)
            .collect::<Vec<_>>()
    };
    // Each day's own files: MSFT's anomaly on day 1, none of AAPL's on either day.
    assert_eq!(own("MSFT", "bad1.itch").len(), 1);
    assert!(own("AAPL", "bad1.itch").is_empty());
    assert!(own("AAPL", "sw2.itch").is_empty() && own("MSFT", "sw2.itch").is_empty());
    assert_eq!(
        own("AAPL", "two.itch"),
        Vec::<String>::new(),
        "AAPL's own anomalies over both days"
    );
    assert_eq!(
        own("MSFT", "two.itch"),
        own("MSFT", "bad1.itch"),
        "MSFT's own anomalies over both days"
    );
}

/// A file of two days whose day 2 does not list AAPL (locate 1 on day 1: no directory entry,
/// no order on day 2, a delisting). `book --symbol AAPL --day 2`, and `book` at the file's end,
/// must say AAPL has no book that day, as day 2's own file does (exit 2), not print day 1's
/// emptied book as AAPL's book of day 2; `bbo --symbol AAPL --day 2` must say the symbol is
/// not there, as day 2's own file does, not succeed with no lines.
#[test]
fn book_and_bbo_of_a_day_that_does_not_list_the_symbol_say_so() {
    let dir = tempfile::tempdir().unwrap();
    two_days(dir.path());
    // Day 2 without locate 1's messages.
    let d2 = std::fs::read(dir.path().join("d2.itch")).unwrap();
    let mut without = Vec::with_capacity(d2.len());
    let mut at = 0;
    while at + 2 <= d2.len() {
        let len = usize::from(u16::from_be_bytes([d2[at], d2[at + 1]]));
        let m = &d2[at..at + 2 + len];
        if u16::from_be_bytes([m[3], m[4]]) != 1 {
            without.extend_from_slice(m);
        }
        at += 2 + len;
    }
    std::fs::write(dir.path().join("d2x.itch"), &without).unwrap();
    let mut two = std::fs::read(dir.path().join("d1.itch")).unwrap();
    two.extend(without);
    std::fs::write(dir.path().join("twox.itch"), two).unwrap();
    let code = |args: &[&str]| {
        let o = ticklane(args, dir.path());
        (
            o.status.code(),
            String::from_utf8_lossy(&o.stdout).into_owned(),
        )
    };
    // Day 2's own file: no book, no such symbol.
    assert_eq!(code(&["book", "--symbol", "AAPL", "d2x.itch"]).0, Some(2));
    assert_eq!(code(&["bbo", "--symbol", "AAPL", "d2x.itch"]).0, Some(2));
    for args in [
        &["book", "--symbol", "AAPL", "--day", "2", "twox.itch"][..],
        &["book", "--symbol", "AAPL", "twox.itch"][..],
        &["bbo", "--symbol", "AAPL", "--day", "2", "twox.itch"][..],
    ] {
        let (status, out) = code(args);
        assert_eq!(status, Some(2), "{args:?} printed:\n{out}");
    }
}
