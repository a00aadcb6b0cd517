//! `ticklane run` end to end: the embedded default with the example strategies, determinism
//! across runs, lane counts, paces and source paths, the JSON summary, `.hgrm` files, the
//! `--out` report files checked against each other and the ledger, and configuration errors
//! that name the key.

#![allow(clippy::unwrap_used)]

use std::path::Path;
use std::process::{Command, Output};

const BIN: &str = env!("CARGO_BIN_EXE_ticklane");

fn ticklane(args: &[&str]) -> Output {
    Command::new(BIN).args(args).output().unwrap()
}

fn ok(args: &[&str]) -> String {
    let o = ticklane(args);
    assert!(
        o.status.success(),
        "ticklane {args:?} failed: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8(o.stdout).unwrap()
}

fn json(args: &[&str]) -> serde_json::Value {
    let mut a = args.to_vec();
    a.push("--json");
    serde_json::from_str(&ok(&a)).unwrap()
}

/// The session of the embedded default configuration, cut to 200,000 messages (what `run
/// --messages 200000` generates), as `gen`/`bench` arguments.
const SESSION: [&str; 6] = ["--seed", "7", "--messages", "200000", "--instruments", "64"];

fn digest(v: &serde_json::Value) -> String {
    v["digest"].as_str().unwrap().to_string()
}

/// `config/run.toml` with the line `from` (which it must contain) replaced by `to`, written to
/// `dir/name`.
fn default_config_with(dir: &Path, name: &str, from: &str, to: &str) -> std::path::PathBuf {
    let cfg =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/config/run.toml")).unwrap();
    assert!(cfg.contains(from), "config/run.toml has no {from:?}");
    let path = dir.join(name);
    std::fs::write(&path, cfg.replace(from, to)).unwrap();
    path
}

/// The committed run digest of the embedded default cut to 200,000 messages.
fn golden_digest() -> String {
    let text = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/golden/run_digest_default_200k.txt"),
    )
    .unwrap();
    text.trim().to_string()
}

#[test]
fn the_default_run_trades_and_prints_a_summary() {
    let out = ok(&["run", "--messages", "300000"]);
    for needle in [
        "feed      300000 messages",
        "imb-aapl",
        "mm-nvda",
        "tick-to-decision",
        "digest    ",
    ] {
        assert!(out.contains(needle), "missing {needle:?} in\n{out}");
    }
    let v = json(&["run", "--messages", "300000"]);
    assert_eq!(v["messages"], 300_000);
    assert_eq!(v["errors"], 0);
    assert_eq!(v["dropped_lane_gone"], 0);
    assert_eq!(v["days"], 1);
    let strategies = v["strategies"].as_array().unwrap();
    assert_eq!(strategies.len(), 4);
    // Not vacuous: both kinds sent orders and got fills.
    for name in ["imb-aapl", "mm-nvda"] {
        let s = strategies.iter().find(|s| s["name"] == name).unwrap();
        assert!(s["commands"].as_u64().unwrap() > 10, "{s}");
        assert!(s["fills"].as_u64().unwrap() > 0, "{s}");
        assert!(s["events"].as_u64().unwrap() > 1_000, "{s}");
    }
    // Every hop was measured.
    for hop in ["decode", "publish", "ring", "strategy", "tick-to-decision"] {
        assert!(v["latency_ns"][hop]["count"].as_u64().unwrap() > 0, "{hop}");
    }
    // No hop took a minute: nothing was clamped to the histograms' top (the count is there).
    assert_eq!(v["latency_clamped"], 0);
    assert_eq!(digest(&v).len(), 64);
}

#[test]
fn one_digest_across_runs_lanes_paces_and_source_paths() {
    let base = json(&["run", "--messages", "200000"]);
    let again = json(&["run", "--messages", "200000"]);
    let two = json(&["run", "--messages", "200000", "--lanes", "2"]);
    let four = json(&[
        "run",
        "--messages",
        "200000",
        "--lanes",
        "4",
        "--no-latency",
    ]);
    let paced = json(&["run", "--messages", "200000", "--pace", "rate:2000000"]);
    assert_eq!(digest(&base), digest(&again));
    assert_eq!(digest(&base), digest(&two), "1 vs 2 lanes");
    assert_eq!(digest(&base), digest(&four), "1 vs 4 lanes");
    assert_eq!(digest(&base), digest(&paced), "max vs paced");
    assert_eq!(two["lanes"].as_array().unwrap().len(), 2);
    // `ticklane bench` drives one lane of the same configuration on its own thread, with no
    // feed thread and no ring: the same decisions.
    let bench = json(&[&["bench"], &SESSION[..], &["--passes", "1"]].concat());
    let lane = bench
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["stage"] == "decode+normalize+lane")
        .unwrap();
    assert_eq!(digest(lane), digest(&base), "run vs bench's lane stage");
    // The lane keeps only the books its strategies read; keeping every book decides the same.
    let lane0 = &base["lanes"][0];
    assert!(
        lane0["books_kept"].as_u64().unwrap() < lane0["instruments"].as_u64().unwrap(),
        "{lane0}"
    );
    // The feed sends it none of the others' events (their directory entries excepted).
    assert!(base["unread"].as_u64().unwrap() > 0, "{base}");
    assert_eq!(lane0["unkept_events"], 0, "{lane0}");
    assert_eq!(
        lane0["events"].as_u64().unwrap() + base["unread"].as_u64().unwrap(),
        base["events"].as_u64().unwrap(),
        "{base}"
    );
    let dir = tempfile::tempdir().unwrap();
    let all_books = default_config_with(
        dir.path(),
        "all-books.toml",
        "\nbooks = \"subscribed\"\n",
        "\nbooks = \"all\"\n",
    );
    let all = json(&["run", all_books.to_str().unwrap(), "--messages", "200000"]);
    assert_eq!(all["lanes"][0]["unkept_events"], 0, "{}", all["lanes"][0]);
    assert_eq!(all["unread"], 0, "{all}");
    assert_eq!(
        all["lanes"][0]["books_kept"], all["lanes"][0]["instruments"],
        "{}",
        all["lanes"][0]
    );
    assert_eq!(digest(&base), digest(&all), "subscribed books vs all books");

    // The same session written to a file and read through the file reader decides the same.
    let file = dir.path().join("s.itch");
    let f = file.to_str().unwrap();
    ok(&[&["gen"], &SESSION[..], &["-o", f]].concat());
    let from_file = json(&["run", "--file", f]);
    assert_eq!(digest(&base), digest(&from_file), "in-memory vs file");
    let pcap = dir.path().join("s.pcap");
    let p = pcap.to_str().unwrap();
    ok(&[&["gen"], &SESSION[..], &["--format", "pcap", "-o", p]].concat());
    assert_eq!(
        digest(&base),
        digest(&json(&["run", "--file", p])),
        "in-memory vs pcap"
    );
    // `replay` of the pcap, measuring its hops or not: the same decisions. Every event the
    // lane took was measured (it dropped none: the feed sends no unread instrument's events,
    // see `unkept_events` above), and with `--no-latency` none.
    let measured = json(&["replay", p]);
    let unmeasured = json(&["replay", p, "--no-latency"]);
    assert_eq!(
        digest(&base),
        digest(&measured),
        "in-memory vs replayed pcap"
    );
    assert_eq!(
        digest(&base),
        digest(&unmeasured),
        "replay with --no-latency"
    );
    assert_eq!(
        measured["latency_ns"]["ring"]["count"], measured["lanes"][0]["events"],
        "{measured}"
    );
    for hop in ["decode", "ring", "strategy", "tick-to-decision"] {
        assert_eq!(unmeasured["latency_ns"][hop]["count"], 0, "{hop}");
    }

    // A different session decides differently.
    let other = json(&["run", "--messages", "150000"]);
    assert_ne!(digest(&base), digest(&other));
}

/// The run digest of the embedded default cut to 200,000 messages, as committed: the same on
/// every machine, CI's included, one lane or two. A change here means that what the strategies
/// saw or did changed: say why in the commit and update the golden file.
#[test]
fn the_default_run_digest_is_the_committed_golden() {
    let golden = golden_digest();
    let golden = golden.as_str();
    assert_eq!(golden.len(), 64);
    for lanes in ["1", "2"] {
        let v = json(&["run", "--messages", "200000", "--lanes", lanes]);
        assert_eq!(digest(&v), golden, "{lanes} lane(s)");
    }
}

/// `replay` without a SOURCE replays the configuration's source: the embedded default's
/// generated session, here cut to 200,000 messages, to the committed golden digest. The same
/// session recorded as a capture (one message per record, received 20 µs apart) replays to that
/// digest three times at `max` and three times at `10x`, on one lane and on two.
#[test]
fn replays_at_max_and_10x_on_one_and_two_lanes_give_the_golden_digest() {
    use ticklane_replay::format::{CaptureHeader, FeedKind};
    use ticklane_replay::{CaptureWriter, Line, WriterOptions};
    let golden = golden_digest();
    let golden = golden.as_str();
    let dir = tempfile::tempdir().unwrap();
    let cut = default_config_with(
        dir.path(),
        "cut.toml",
        "\nmessages = 2_000_000\n",
        "\nmessages = 200_000\n",
    );
    let cut = cut.to_str().unwrap();
    assert_eq!(digest(&json(&["replay", "--config", cut])), golden);

    let file = dir.path().join("s.itch");
    ok(&[&["gen"], &SESSION[..], &["-o", file.to_str().unwrap()]].concat());
    let bytes = std::fs::read(&file).unwrap();
    let cap = dir.path().join("s.tlcap");
    let header = CaptureHeader::new(FeedKind::ItchBinary, "");
    let mut w = CaptureWriter::create(&cap, &header, WriterOptions::default()).unwrap();
    let (mut pos, mut n) = (0usize, 0u64);
    while pos < bytes.len() {
        let len = usize::from(u16::from_be_bytes([bytes[pos], bytes[pos + 1]]));
        let t = 34_200_000_000_000 + n * 20_000;
        w.write_record(t, Line::A, &bytes[pos + 2..pos + 2 + len])
            .unwrap();
        pos += 2 + len;
        n += 1;
    }
    w.finish().unwrap();
    assert_eq!(n, 200_000);
    let c = cap.to_str().unwrap();
    // A symbol that no directory message names is reported, not silently replayed as nothing.
    let v = json(&["replay", c, "--symbols", "AAPL,NOPE,AAPL"]);
    assert_eq!(v["unmatched_symbols"], serde_json::json!(["NOPE"]), "{v}");
    assert!(v["filtered"].as_u64().unwrap() > 0, "{v}");
    for speed in ["max", "10x"] {
        for lanes in ["1", "2"] {
            for round in 0..3 {
                let v = json(&["replay", c, "--speed", speed, "--lanes", lanes]);
                assert_eq!(digest(&v), golden, "{speed}, {lanes} lane(s), run {round}");
                // Paced: the last event was due 200,000 × 20 µs / 10 after the first.
                let span = v["paced_span_ns"].as_u64().unwrap();
                if speed == "10x" {
                    assert_eq!(span, (n - 1) * 20_000 / 10, "{v}");
                } else {
                    assert_eq!(span, 0);
                }
            }
        }
    }
}

/// Random (log-normal) venue latencies: each strategy draws from its own generators over its
/// own order-entry session, so the digest is the same on 1, 2 and 4 lanes (and not the
/// constant-latency one: the reports' times differ). The venue test
/// `engine/exec/tests/paper.rs::with_random_latency_a_strategy_meets_the_same_venue_whoever_shares_it`
/// is the sharper check of the sessions; this one is the whole engine.
#[test]
fn random_venue_latency_gives_one_digest_in_every_lane_layout() {
    let dir = tempfile::tempdir().unwrap();
    let lognormal = default_config_with(
        dir.path(),
        "lognormal.toml",
        "\nlatency = \"constant\"\n",
        "\nlatency = \"lognormal\"\nlatency_sigma = 0.8\nlatency_seed = 11\n",
    );
    let l = lognormal.to_str().unwrap();
    let one = json(&["run", l, "--messages", "200000"]);
    for lanes in ["2", "4"] {
        let v = json(&["run", l, "--messages", "200000", "--lanes", lanes]);
        assert_eq!(digest(&v), digest(&one), "{lanes} lanes");
    }
    assert_ne!(digest(&one), golden_digest());
    let fills: u64 = one["strategies"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["fills"].as_u64().unwrap())
        .sum();
    assert!(fills > 100, "{one}");
}

#[test]
fn hgrm_files_are_written_per_hop() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().join("hgrm");
    ok(&["run", "--messages", "100000", "--hgrm", d.to_str().unwrap()]);
    for hop in [
        "decode",
        "ring",
        "strategy",
        "tick-to-decision",
        "tick-to-trade",
    ] {
        let text = std::fs::read_to_string(d.join(format!("{hop}.hgrm"))).unwrap();
        assert!(
            text.starts_with("       Value     Percentile TotalCount"),
            "{hop}"
        );
        assert!(text.contains("#[Max     ="), "{hop}");
    }
}

#[test]
fn a_strategy_tripping_its_daily_loss_limit_is_reported_and_the_others_go_on() {
    // The default configuration with a $1 daily loss limit: the takers lose that much on their
    // first trades (spread and fees).
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("tight.toml");
    let text =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("config/run.toml"))
            .unwrap()
            .replace("daily_loss_limit = 25_000", "daily_loss_limit = 1");
    std::fs::write(&cfg, text).unwrap();
    let out = ok(&["run", cfg.to_str().unwrap(), "--messages", "300000"]);
    let trips: Vec<&str> = out
        .lines()
        .filter(|l| l.contains("tripped its risk limit daily_loss_limit"))
        .collect();
    assert!(
        trips.iter().any(|l| l.contains("strategy imb-aapl ")),
        "{out}"
    );
    // Once per strategy, however many of its orders were refused afterwards.
    let mut names: Vec<&str> = trips
        .iter()
        .filter_map(|l| l.split("strategy ").nth(1)?.split(' ').next())
        .collect();
    let all = names.len();
    names.sort_unstable();
    names.dedup();
    assert_eq!(names.len(), all, "{out}");
    // A tripped strategy is told (`trading_enabled` is false for it): it stops sending, rather
    // than having every order refused (the market makers used to resend on every event: a
    // storm of hundreds of thousands of rejects).
    let v = json(&["run", cfg.to_str().unwrap(), "--messages", "300000"]);
    for s in v["strategies"].as_array().unwrap() {
        assert!(s["rejects"].as_u64().unwrap() < 20, "{s}");
    }
}

#[test]
fn configuration_errors_name_the_key() {
    let dir = tempfile::tempdir().unwrap();
    let cases = [
        (
            "[source.generate]\nseed = 1\nmessages = 1000\ninstruments = 2\n[[strategy]]\nname = \"x\"\nkind = \"nope\"\nsymbols = [\"AAPL\"]\n",
            "strategy[0].kind",
        ),
        (
            "[source.generate]\nseed = 1\nmessages = 1000\ninstruments = 2\n[[strategy]]\nname = \"x\"\nkind = \"imbalance\"\nsymbols = [\"AAPL\"]\n[strategy.params]\nthreshhold = 0.2\n",
            "threshhold",
        ),
        (
            "[source.generate]\nseed = 1\nmessages = 1000\ninstruments = 2\n[[strategy]]\nname = \"x\"\nkind = \"imbalance\"\nsymbols = [\"AAPL\"]\n[strategy.params]\nlevels = \"three\"\n",
            "levels",
        ),
        (
            "[source.generate]\nseed = 1\nmessages = 1000\ninstruments = 2\n[engine]\nidle = \"doze\"\n",
            "engine.idle",
        ),
        (
            "[source.generate]\nseed = 1\nmessages = 1000\ninstruments = 2\n[[strategy]]\nname = \"x\"\nkind = \"imbalance\"\nsymbols = [\"\"]\n",
            "strategy[0].symbols: `` is not a symbol",
        ),
        ("[source]\nfile = \"missing.itch\"\n", "source.file"),
        ("[source.live]\nfeed = \"tcp://1.2.3.4:5\"\n", "source.live.feed"),
        (
            "[source.generate]\nseed = 1\nmessages = 1000\ninstruments = 2\n[venue]\nqueue = \"first\"\n",
            "venue.queue",
        ),
        (
            // Checked under `touch` too, though that venue has no latency.
            "[source.generate]\nseed = 1\nmessages = 1000\ninstruments = 2\n[venue]\nkind = \"touch\"\nlatency = \"lognormel\"\n",
            "venue.latency: `lognormel`",
        ),
        (
            "[source.live]\nfeed = \"udp://127.0.0.1:0\"\nretransmit = [\"nowhere\"]\n",
            "source.live.retransmit[0]",
        ),
        (
            "[source.live]\nfeed = \"udp://127.0.0.1:0\"\nrecv_bufer = 5\n",
            "recv_bufer",
        ),
        (
            "[source.live]\nfeed = \"udp://127.0.0.1:0\"\nrecord = \"x.cap\"\nrecord_flush = \"sometimes\"\n",
            "record flush `sometimes`",
        ),
        (
            "[source.live]\nfeed = \"udp://127.0.0.1:0\"\nrecord = \"x.cap\"\nrecord_ring_mb = 0\n",
            "source.live.record_ring_mb: 0 MiB: expected 1 to 4096",
        ),
        (
            "[source.live]\nfeed = \"quic://127.0.0.1:9\"\ntoken_env = \"TICKLANE_NO_SUCH_VAR\"\n",
            "source.live",
        ),
        // A core no machine here has: refused, not run unpinned.
        (
            "[source.generate]\nseed = 1\nmessages = 1000\ninstruments = 2\n[engine]\nlane_cores = [100000]\n",
            "engine.lane_cores[0]: core 100000 is not one this process may run on",
        ),
        (
            "[source.generate]\nseed = 1\nmessages = 1000\ninstruments = 2\n[engine]\nfeed_core = 100000\n",
            "engine.feed_core: core 100000",
        ),
        (
            "[source.generate]\nseed = 1\nmessages = 1000\ninstruments = 2\n[engine]\nlanes = 2\nlane_cores = [0, 0]\n",
            "engine.lane_cores[1]: core 0 is named twice",
        ),
        // Values accepted that did nothing, or nonsense (each used to load).
        (
            "[source.generate]\nseed = 1\nmessages = 1000\ninstruments = 2\n[venue]\nkind = \"touch\"\nmaker_fee_per_share = -20\n",
            "venue.maker_fee_per_share: the touch venue charges no fees",
        ),
        (
            "[source.generate]\nseed = 1\nmessages = 1000\ninstruments = 2\n[venue]\nkind = \"touch\"\nqueue = \"trade-through\"\n",
            "venue.queue: the touch venue",
        ),
        (
            "[source.generate]\nseed = 1\nmessages = 1000\ninstruments = 2\n[venue]\nlatency_sigma = -1.0\n",
            "venue.latency_sigma",
        ),
        (
            "[source.generate]\nseed = 1\nmessages = 1000\ninstruments = 2\n[venue]\ntaker_fee_per_share = 9223372036854775807\n",
            "venue.taker_fee_per_share: 9223372036854775807 is outside -10000..=10000",
        ),
        (
            "[source.generate]\nseed = 1\nmessages = 1000\ninstruments = 2\n[risk]\nmax_order_qty = 0\n",
            "max_order_qty",
        ),
        (
            "[source.generate]\nseed = 1\nmessages = 1000\ninstruments = 2\n[risk]\nmax_gross_exposure = 0.00001\n",
            "max_gross_exposure",
        ),
        (
            "[source.generate]\nseed = 1\nmessages = 10\ninstruments = 2\n",
            "source.generate.messages: messages = 10 is below the minimum",
        ),
        (
            "[source.generate]\nseed = 1\nmessages = 1000\ninstruments = 2\n[engine]\norder_capacity = 1073741824\n",
            "engine.order_capacity: must be between 1 and 2^24",
        ),
        (
            "[source.live]\nfeed = \"udp://127.0.0.1:0\"\nrecord_flush = \"block\"\n",
            "source.live.record_flush: there is no recording",
        ),
        (
            "[source.live]\nfeed = \"udp://127.0.0.1:0\"\nca = \"ca.pem\"\n",
            "source.live.ca: only for a quic:// feed",
        ),
        (
            "[source.live]\nfeed = \"udp://127.0.0.1:0\"\nstop_after_silence_s = 0\n",
            "source.live.stop_after_silence_s",
        ),
        (
            "[source.generate]\nseed = 1\nmessages = 1000\ninstruments = 2\n[[strategy]]\nname = \"x\"\nkind = \"imbalance\"\nsymbols = [\" AAPL\"]\n",
            "strategy[0].symbols: \" AAPL\" is not a symbol",
        ),
    ];
    for (i, (text, key)) in cases.iter().enumerate() {
        let p = dir.path().join(format!("c{i}.toml"));
        std::fs::write(&p, text).unwrap();
        let o = ticklane(&["run", p.to_str().unwrap()]);
        assert!(!o.status.success(), "{key}");
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(err.contains(key), "{key}: {err}");
    }
}

/// A generated session of 10^18 messages aborted the process (SIGABRT, a failed allocation);
/// one too small for the day's structure loaded and failed later naming neither the file nor the
/// key; an order index pre-sized at 2^30 (about 64 GB) was accepted. Each is now an error (exit
/// 2) naming the file and the key, or the flag, for `run` and `demo`.
#[test]
fn generated_session_sizes_and_order_capacities_are_refused_by_name_not_aborted() {
    let dir = tempfile::tempdir().unwrap();
    let file = |name: &str, text: &str| {
        let p = dir.path().join(name);
        std::fs::write(&p, text).unwrap();
        p.to_str().unwrap().to_string()
    };
    let huge = file(
        "huge.toml",
        "[source.generate]\nseed = 1\nmessages = 1_000_000_000_000_000_000\ninstruments = 2\n",
    );
    let small = file(
        "small.toml",
        "[source.generate]\nseed = 1\nmessages = 10\ninstruments = 2\n",
    );
    let demo_huge = file(
        "demo-huge.toml",
        "[session]\nseed = 1\nmessages = 1_000_000_000_000_000_000\ninstruments = 2\n",
    );
    let demo_small = file(
        "demo-small.toml",
        "[session]\nseed = 1\nmessages = 10\ninstruments = 2\n",
    );
    let demo_capacity = file(
        "demo-capacity.toml",
        "[session]\nseed = 1\nmessages = 1000\ninstruments = 2\n[book]\norder_capacity = 1073741824\n",
    );
    let cases: [(Vec<&str>, String); 7] = [
        (
            vec!["run", &huge],
            format!("{huge}: source.generate.messages: 1000000000000000000 is more than"),
        ),
        (
            vec!["run", &small],
            format!("{small}: source.generate.messages: messages = 10 is below the minimum"),
        ),
        (
            vec!["run", "--messages", "1000000000000000000"],
            "--messages: 1000000000000000000 is more than".to_string(),
        ),
        (
            vec!["run", "--messages", "10"],
            "--messages: messages = 10 is below the minimum".to_string(),
        ),
        (
            vec!["demo", "--config", &demo_huge],
            format!("{demo_huge}: session.messages: 1000000000000000000 is more than"),
        ),
        (
            vec!["demo", "--config", &demo_small],
            format!("{demo_small}: session.messages: messages = 10 is below the minimum"),
        ),
        (
            vec!["demo", "--config", &demo_capacity],
            format!("{demo_capacity}: book.order_capacity: must be between 1 and 2^24"),
        ),
    ];
    for (args, want) in cases {
        let o = ticklane(&args);
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(2), "{args:?}: {:?} {err}", o.status);
        assert!(err.contains(&want), "{args:?}: want {want:?} in {err}");
        assert!(!err.contains("panicked"), "{err}");
    }
    let o = ticklane(&["demo", "--messages", "1000000000000000000"]);
    assert_eq!(o.status.code(), Some(2), "{:?}", o.status);
    assert!(String::from_utf8_lossy(&o.stderr).contains("--messages"));
    // A run that reads a file has no generated session to size: refused by name, whatever the
    // value (a valid one was ignored, a small one refused against the unused generator).
    let itch = dir.path().join("s.itch");
    let itch = itch.to_str().unwrap();
    let o = ticklane(&["gen", "--seed", "3", "--messages", "2000", "-o", itch]);
    assert!(o.status.success());
    for m in ["10", "5000"] {
        let o = ticklane(&["run", "--file", itch, "--messages", m]);
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(2), "{m}: {err}");
        assert!(
            err.contains("--messages: this run reads a file"),
            "{m}: {err}"
        );
    }
}

#[test]
fn lanes_from_the_command_line_that_drop_a_strategys_lane_are_refused_by_name() {
    // The file places its strategy on lane 1 of 2; `--lanes 1` leaves no lane 1. An error
    // naming the strategy and its key, not an index out of bounds.
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("lanes.toml");
    std::fs::write(
        &p,
        "[source.generate]\nseed = 1\nmessages = 1000\ninstruments = 2\n[engine]\nlanes = 2\n\
         [[strategy]]\nname = \"x\"\nkind = \"imbalance\"\nsymbols = [\"AAPL\"]\nlane = 1\n",
    )
    .unwrap();
    for cmd in [
        vec!["run", p.to_str().unwrap(), "--lanes", "1"],
        vec!["replay", "--config", p.to_str().unwrap(), "--lanes", "1"],
    ] {
        let o = ticklane(&cmd);
        assert_eq!(o.status.code(), Some(2), "{cmd:?}");
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(
            err.contains("strategy[0] (`x`) is placed on lane 1 by its `lane` key"),
            "{cmd:?}: {err}"
        );
        assert!(!err.contains("panicked"), "{err}");
    }
}

#[test]
fn strategies_lists_the_registry() {
    let out = ok(&["strategies"]);
    assert!(out.contains("imbalance"));
    assert!(out.contains("microprice_mm"));
}

#[test]
fn jitter_reports_one_row_per_core() {
    let out = ok(&["jitter", "--seconds", "1", "--cores", "0"]);
    let rows: Vec<&str> = out.lines().collect();
    assert_eq!(rows.len(), 2, "{out}");
    assert!(rows[0].contains("max gap ns"));
    let cols: Vec<&str> = rows[1].split_whitespace().collect();
    assert_eq!(cols[0], "0");
    assert_eq!(cols.len(), 8, "{out}");
}

#[test]
fn report_files_reconcile_with_each_other() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    ok(&[
        "run",
        "--messages",
        "300000",
        "--out",
        out.to_str().unwrap(),
    ]);
    let read = |name: &str| std::fs::read_to_string(out.join(name)).unwrap();
    let summary: serde_json::Value = serde_json::from_str(&read("summary.json")).unwrap();
    // Fills summed per strategy and symbol give the positions file's bought, sold and net.
    let mut sums: std::collections::BTreeMap<(String, String), (i64, i64)> = Default::default();
    let fills = read("fills.csv");
    let mut n_fills = 0;
    for line in fills.lines().skip(1) {
        let c: Vec<&str> = line.split(',').collect();
        let qty: i64 = c[8].parse().unwrap();
        let e = sums
            .entry((c[2].to_string(), c[5].to_string()))
            .or_default();
        match c[6] {
            "Bid" => e.0 += qty,
            "Ask" => e.1 += qty,
            other => panic!("side {other}"),
        }
        n_fills += 1;
    }
    assert!(n_fills > 100, "{n_fills} fills");
    let positions = read("positions.csv");
    let mut rows = 0;
    for line in positions.lines().skip(1) {
        let c: Vec<&str> = line.split(',').collect();
        let (bought, sold) = sums[&(c[0].to_string(), c[2].to_string())];
        assert_eq!(c[4].parse::<i64>().unwrap(), bought, "{line}");
        assert_eq!(c[5].parse::<i64>().unwrap(), sold, "{line}");
        assert_eq!(c[3].parse::<i64>().unwrap(), bought - sold, "{line}");
        rows += 1;
    }
    assert_eq!(rows, sums.len());
    // Every fill's order was submitted first, in orders.csv.
    let orders = read("orders.csv");
    let submitted: std::collections::BTreeSet<&str> = orders
        .lines()
        .filter(|l| l.contains(",submit,"))
        .map(|l| l.split(',').nth(3).unwrap())
        .collect();
    for line in fills.lines().skip(1) {
        assert!(
            submitted.contains(line.split(',').nth(3).unwrap()),
            "{line}"
        );
    }
    // The summary is the JSON summary of the same run.
    let total_fills: u64 = summary["strategies"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["fills"].as_u64().unwrap())
        .sum();
    assert_eq!(total_fills, n_fills);
    assert!(read("equity.csv").lines().count() > 10);
    assert!(read("tick-to-trade.hgrm").contains("#[Max"));
    for chart in ["equity.svg", "latency.svg"] {
        let svg = read(chart);
        assert!(
            svg.starts_with("<svg") && svg.trim_end().ends_with("</svg>"),
            "{chart}"
        );
        assert!(svg.contains("<polyline"), "{chart}");
    }
    assert!(read("equity.svg").contains("imb-aapl"));
    assert!(read("latency.svg").contains("tick-to-decision"));
    // Every row names its order's instrument (an amend the venue refused after the fill, on
    // an order it no longer knew, said instrument 0); money in positions.csv and equity.csv has
    // six decimal places throughout (`-12.520000` beside `17.5100` in one column before); and
    // equity.csv has one row per strategy and instant (the generated session ends on a whole
    // second, 20:05:00: the close's row repeated that second's timestamp).
    assert!(
        orders.contains(",amend_rejected,"),
        "the default run has amends refused after a fill: the case checked"
    );
    for line in orders.lines().skip(1) {
        let f = fields(line);
        if f[4] != "submit" && f[4] != "cancel" && f[4] != "modify" {
            assert_ne!(f[5], "0", "{line}");
            assert!(!f[6].is_empty(), "{line}");
        }
    }
    let six = |v: &str, line: &str| {
        let (_, frac) = v.split_once('.').unwrap_or_else(|| panic!("{line}"));
        assert_eq!(frac.len(), 6, "{line}");
    };
    for line in read("positions.csv").lines().skip(1) {
        let f = fields(line);
        // avg_cost (6) is empty for a flat position.
        for v in [&f[6], &f[8], &f[9], &f[10], &f[11]] {
            if !v.is_empty() {
                six(v, line);
            }
        }
    }
    let mut seen = std::collections::BTreeSet::new();
    for line in read("equity.csv").lines().skip(1) {
        let f = fields(line);
        six(&f[2], line);
        six(&f[3], line);
        assert!(
            seen.insert((f[0].clone(), f[1].clone())),
            "repeated: {line}"
        );
    }
}

#[test]
fn paper_runs_a_paced_file_and_writes_its_reports() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("s.itch");
    let f = file.to_str().unwrap();
    ok(&[
        "gen",
        "--seed",
        "3",
        "--messages",
        "100000",
        "--instruments",
        "8",
        "-o",
        f,
    ]);
    let out = dir.path().join("paper");
    // 1x would take a trading day: run the same engine at a fast pace.
    let text = ok(&[
        "paper",
        "--file",
        f,
        "--pace",
        "rate:2000000",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert!(text.contains("digest    "), "{text}");
    for name in [
        "orders.csv",
        "fills.csv",
        "positions.csv",
        "summary.json",
        "equity.svg",
    ] {
        assert!(out.join(name).exists(), "{name}");
    }
    let summary: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("summary.json")).unwrap()).unwrap();
    assert_eq!(summary["messages"], 100_000);
}

#[test]
fn record_then_replay_gives_the_digest_of_the_original() {
    let dir = tempfile::tempdir().unwrap();
    let p = |n: &str| dir.path().join(n).to_str().unwrap().to_string();
    let gen = |format: &str, out: &str| {
        ok(&[
            "gen",
            "--seed",
            "7",
            "--messages",
            "200000",
            "--instruments",
            "64",
            "--format",
            format,
            "-o",
            out,
        ])
    };
    gen("itch", &p("s.itch"));
    gen("pcap", &p("s.pcap"));
    ok(&["record", &p("s.itch"), "-o", &p("a.tlcap")]);
    ok(&["record", &p("s.pcap"), "-o", &p("b.tlcap"), "--zstd"]);
    let base = digest(&json(&["run", "--messages", "200000"]));
    for cap in ["a.tlcap", "b.tlcap"] {
        let v = json(&["replay", &p(cap)]);
        assert_eq!(v["messages"], 200_000, "{cap}");
        assert_eq!(v["errors"], 0, "{cap}");
        assert_eq!(digest(&v), base, "{cap}");
    }
    // A capture cut in the middle of a block: everything before the cut is read and the torn
    // tail is an error with its offset, not a silent stop.
    let bytes = std::fs::read(p("a.tlcap")).unwrap();
    std::fs::write(p("cut.tlcap"), &bytes[..bytes.len() * 2 / 3]).unwrap();
    let o = ticklane(&["inspect", "--json", &p("cut.tlcap")]);
    assert!(!o.status.success(), "errors make inspect exit non-zero");
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let messages = v["messages"].as_u64().unwrap();
    assert!(messages > 100_000 && messages < 200_000, "{messages}");
    assert_eq!(v["errors"], 1);
    let errors = v["error_list"].to_string();
    assert!(errors.contains("capture"), "{errors}");
    assert!(
        errors.contains("offset"),
        "the error names its offset: {errors}"
    );
}

#[test]
fn replay_window_and_symbols() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("s.itch");
    let f = file.to_str().unwrap();
    ok(&[
        "gen",
        "--seed",
        "7",
        "--messages",
        "200000",
        "--instruments",
        "64",
        "-o",
        f,
    ]);
    let all = json(&["replay", f]);
    let part = json(&[
        "replay",
        f,
        "--from",
        "10:00:00",
        "--to",
        "11:00:00",
        "--symbols",
        "AAPL,NVDA",
    ]);
    assert_eq!(part["reached_end_of_window"], true);
    assert!(part["filtered"].as_u64().unwrap() > 0);
    let events = |v: &serde_json::Value, name: &str| {
        v["strategies"]
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["name"] == name)
            .unwrap()["events"]
            .as_u64()
            .unwrap()
    };
    // Instruments outside --symbols reach nobody; the others only within the window.
    assert_eq!(events(&part, "imb-msft"), 0);
    assert_eq!(events(&part, "mm-amzn"), 0);
    for name in ["imb-aapl", "mm-nvda"] {
        let (p, a) = (events(&part, name), events(&all, name));
        assert!(p > 0 && p < a, "{name}: {p} of {a}");
    }
    let bad = ticklane(&["replay", f, "--from", "11:00", "--to", "10:00:00"]);
    assert!(!bad.status.success());
}

#[test]
fn lines_a_and_b_are_arbitrated_duplicates_and_gaps_counted() {
    use ticklane_replay::{CaptureReader, CaptureWriter, Line, WriterOptions};
    let dir = tempfile::tempdir().unwrap();
    let p = |n: &str| dir.path().join(n).to_str().unwrap().to_string();
    ok(&[
        "gen",
        "--seed",
        "7",
        "--messages",
        "200000",
        "--instruments",
        "64",
        "--format",
        "pcap",
        "-o",
        &p("s.pcap"),
    ]);
    ok(&["record", &p("s.pcap"), "-o", &p("one.tlcap")]);
    // Every packet on both lines (B a moment after A); in a second file, packet 100 is lost on
    // both lines.
    let reader = CaptureReader::open(p("one.tlcap")).unwrap();
    let header = reader.header().clone();
    let records: Vec<_> = reader.map(|r| r.unwrap()).collect();
    let write = |name: &str, skip: Option<usize>, noted: bool| {
        let mut w = CaptureWriter::create(p(name), &header, WriterOptions::default()).unwrap();
        for (i, r) in records.iter().enumerate() {
            if Some(i) == skip {
                if noted {
                    // As a live recorder whose ring was full writes it: both copies dropped.
                    let mut note = b"DROP".to_vec();
                    note.extend_from_slice(&2u64.to_be_bytes());
                    w.write_record(r.ts_ns + 1_000, Line::Note, &note).unwrap();
                    // And a note of a known kind cut short: reported, not skipped.
                    w.write_record(r.ts_ns + 1_000, Line::Note, b"LOST012345")
                        .unwrap();
                }
                continue;
            }
            w.write_record(r.ts_ns, Line::A, &r.bytes).unwrap();
            w.write_record(r.ts_ns + 1_000, Line::B, &r.bytes).unwrap();
        }
        w.finish().unwrap();
    };
    write("ab.tlcap", None, false);
    write("gap.tlcap", Some(100), false);
    write("drop.tlcap", Some(100), true);
    let inspect = |name: &str| -> serde_json::Value {
        let o = ticklane(&["inspect", "--json", &p(name)]);
        serde_json::from_slice(&o.stdout).unwrap()
    };
    let ab = inspect("ab.tlcap");
    assert_eq!(ab["messages"], 200_000, "each message once");
    assert_eq!(
        ab["duplicates"], 200_000,
        "every B copy dropped and counted"
    );
    assert_eq!(ab["gaps"], 0);
    let gap = inspect("gap.tlcap");
    let missing = gap["missing"].as_u64().unwrap();
    assert_eq!(gap["gaps"], 1);
    assert!(missing > 0);
    assert_eq!(gap["messages"].as_u64().unwrap(), 200_000 - missing);
    // The same loss with the recorder's note: the gap, plus an error that says why (and one
    // for the cut-short note).
    let dropped = inspect("drop.tlcap");
    assert_eq!(dropped["gaps"], 1);
    assert_eq!(dropped["errors"], gap["errors"].as_u64().unwrap() + 2);
    let errors = dropped["error_list"].to_string();
    assert!(
        errors.contains("the recorder dropped 2 records here"),
        "{dropped}"
    );
    assert!(
        errors.contains("a LOST note of 10 bytes is cut short"),
        "{dropped}"
    );
    // Both lines decide exactly as one line did.
    let one = digest(&json(&["replay", &p("one.tlcap")]));
    assert_eq!(digest(&json(&["replay", &p("ab.tlcap")])), one);
}

#[test]
fn replay_runs_only_the_strategies_named() {
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("s.itch");
    ok(&[
        "gen",
        "--seed",
        "7",
        "--messages",
        "100000",
        "-o",
        f.to_str().unwrap(),
    ]);
    let v = json(&[
        "replay",
        f.to_str().unwrap(),
        "--strategy",
        "mm-nvda",
        "--strategy",
        "imb-aapl",
    ]);
    let names: Vec<&str> = v["strategies"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["imb-aapl", "mm-nvda"]);
    let o = ticklane(&["replay", f.to_str().unwrap(), "--strategy", "nope"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("no strategy named `nope`"));
}

/// An error in a strategy left in by `--strategy` names its place in the file
/// (`strategy[2]`), not its place among those left in.
#[test]
fn strategy_errors_name_the_files_index_after_strategy_filters() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("three.toml");
    std::fs::write(
        &cfg,
        "[source.generate]\nseed = 1\nmessages = 1000\ninstruments = 4\n\
         [[strategy]]\nname = \"a\"\nkind = \"imbalance\"\nsymbols = [\"AAPL\"]\n\
         [[strategy]]\nname = \"b\"\nkind = \"imbalance\"\nsymbols = [\"MSFT\"]\n\
         [[strategy]]\nname = \"c\"\nkind = \"imbalance\"\nsymbols = [\"NVDA\"]\n\
         [strategy.params]\nno_such_param = 1\n",
    )
    .unwrap();
    let o = ticklane(&[
        "replay",
        "--config",
        cfg.to_str().unwrap(),
        "--strategy",
        "c",
    ]);
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(err.contains("strategy[2]"), "{err}");
    assert!(err.contains("no_such_param"), "{err}");
}

/// RFC 4180 fields of one CSV line.
fn fields(line: &str) -> Vec<String> {
    let mut out = vec![String::new()];
    let mut quoted = false;
    let mut chars = line.chars().peekable();
    while let Some(c) = chars.next() {
        match (c, quoted) {
            ('"', false) if out.last().unwrap().is_empty() => quoted = true,
            ('"', true) if chars.peek() == Some(&'"') => {
                chars.next();
                out.last_mut().unwrap().push('"');
            }
            ('"', true) => quoted = false,
            (',', false) => out.push(String::new()),
            (c, _) => out.last_mut().unwrap().push(c),
        }
    }
    out
}

fn read(dir: &Path, name: &str) -> String {
    std::fs::read_to_string(dir.join(name)).unwrap()
}

/// A strategy name with a comma and quotes (the configuration accepts any name) stays one
/// field in every CSV file (it split every row it was on into one field too many).
#[test]
fn csv_files_escape_strategy_names() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("c.toml");
    std::fs::write(
        &cfg,
        "[source.generate]\nseed = 7\nmessages = 100000\ninstruments = 64\n\
         [[strategy]]\nname = \"imb, \\\"aapl\\\"\"\nkind = \"imbalance\"\nsymbols = [\"AAPL\"]\n",
    )
    .unwrap();
    let out = dir.path().join("out");
    ok(&["run", cfg.to_str().unwrap(), "--out", out.to_str().unwrap()]);
    for (file, col) in [
        ("orders.csv", 2),
        ("fills.csv", 2),
        ("positions.csv", 0),
        ("equity.csv", 0),
    ] {
        let text = read(&out, file);
        let header = fields(text.lines().next().unwrap()).len();
        let row = text
            .lines()
            .nth(1)
            .unwrap_or_else(|| panic!("{file} empty"));
        let f = fields(row);
        assert_eq!(f.len(), header, "{file}: {row}");
        assert_eq!(f[col], "imb, \"aapl\"", "{file}: {row}");
    }
}

/// README: equity.csv is "the same in every lane layout", and positions.csv too: the same
/// rows in configuration order (they came lane by lane).
#[test]
fn equity_and_positions_files_are_identical_on_one_and_two_lanes() {
    let dir = tempfile::tempdir().unwrap();
    let one = dir.path().join("one");
    let two = dir.path().join("two");
    ok(&[
        "run",
        "--messages",
        "200000",
        "--out",
        one.to_str().unwrap(),
    ]);
    ok(&[
        "run",
        "--messages",
        "200000",
        "--lanes",
        "2",
        "--out",
        two.to_str().unwrap(),
    ]);
    for file in ["positions.csv", "equity.csv"] {
        let (a, b) = (read(&one, file), read(&two, file));
        let (mut sa, mut sb): (Vec<&str>, Vec<&str>) = (a.lines().collect(), b.lines().collect());
        sa.sort_unstable();
        sb.sort_unstable();
        assert_eq!(sa, sb, "{file}: different rows");
        assert!(a == b, "{file}: same rows, but in another order on 2 lanes");
    }
}

/// The printed summary's money columns are the ledger's amounts rounded to cents, as the status
/// line's (`{:.2}` on a `Decimal` cut the digits off: 54.996 printed 54.99).
#[test]
fn printed_money_is_rounded_not_truncated() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    let text = ok(&[
        "run",
        "--messages",
        "300000",
        "--out",
        out.to_str().unwrap(),
    ]);
    let summary: serde_json::Value = serde_json::from_str(&read(&out, "summary.json")).unwrap();
    for s in summary["strategies"].as_array().unwrap() {
        let name = s["name"].as_str().unwrap();
        let row = text
            .lines()
            .find(|l| l.split_whitespace().next() == Some(name))
            .unwrap();
        let cols: Vec<&str> = row.split_whitespace().collect();
        // name kind lane events orders fills rejects panic position net fees maxdd digest
        for (col, key) in [(9, "net"), (10, "fees"), (11, "max_drawdown")] {
            let exact: rust_decimal::Decimal = s["pnl"][key].as_str().unwrap().parse().unwrap();
            let cents = exact
                .round_dp_with_strategy(2, rust_decimal::RoundingStrategy::MidpointAwayFromZero);
            assert_eq!(
                cols[col],
                format!("{cents:.2}"),
                "{name} {key}: exact {exact}, printed {}",
                cols[col]
            );
        }
    }
}

/// summary.json's per-position `mark_to_mid` is the ledger's realized + unrealized: it valued a
/// position at zero when the book was one-sided at the end (the cash flow alone), while
/// positions.csv and `pnl` keep the last mid: the two files disagreed by the position's value.
#[test]
fn summary_mark_to_mid_agrees_with_the_ledger_on_a_one_sided_close() {
    let dir = tempfile::tempdir().unwrap();
    let msg = dir
        .path()
        .join("XYZ_2012-06-21_34200000_57600000_message_1.csv");
    let mut rows = String::new();
    rows.push_str("34200.000000000,1,1,1000,100000,1\n");
    rows.push_str("34200.001000000,1,2,100,100100,-1\n");
    let mut oid = 10;
    for k in 0..200 {
        let t = 34200.01 + f64::from(k) * 0.01;
        rows.push_str(&format!("{t:.9},1,{oid},100,100000,1\n"));
        rows.push_str(&format!("{:.9},3,{oid},100,100000,1\n", t + 0.005));
        oid += 1;
    }
    // The only ask leaves: the book is one-sided to the end.
    rows.push_str("34300.000000000,3,2,100,100100,-1\n");
    for k in 0..50 {
        let t = 34300.01 + f64::from(k) * 0.5;
        rows.push_str(&format!("{t:.9},1,{oid},100,100000,1\n"));
        oid += 1;
    }
    std::fs::write(&msg, rows).unwrap();
    let cfg = dir.path().join("c.toml");
    std::fs::write(
        &cfg,
        format!(
            "[source]\nfile = {:?}\n[[strategy]]\nname = \"imb-xyz\"\nkind = \"imbalance\"\nsymbols = [\"XYZ\"]\n",
            msg.to_str().unwrap()
        ),
    )
    .unwrap();
    let out = dir.path().join("out");
    ok(&["run", cfg.to_str().unwrap(), "--out", out.to_str().unwrap()]);
    let summary: serde_json::Value = serde_json::from_str(&read(&out, "summary.json")).unwrap();
    let s = &summary["strategies"][0];
    let pos = &s["positions"][0];
    assert!(pos["net"].as_i64().unwrap() > 0, "the strategy bought: {s}");
    let realized: rust_decimal::Decimal = s["pnl"]["realized"].as_str().unwrap().parse().unwrap();
    let unrealized: rust_decimal::Decimal =
        s["pnl"]["unrealized"].as_str().unwrap().parse().unwrap();
    let mark_to_mid: rust_decimal::Decimal = pos["mark_to_mid"].as_str().unwrap().parse().unwrap();
    assert_eq!(
        mark_to_mid,
        (realized + unrealized).round_dp(2),
        "summary.json mark_to_mid vs pnl realized+unrealized; positions.csv: {}",
        read(&out, "positions.csv")
    );
}

/// orders.csv names each order's symbol, also of an instrument the strategy never got a fill
/// in (the names came from the filled positions only: an empty column).
#[test]
fn orders_csv_names_the_symbol_of_an_instrument_without_fills() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("c.toml");
    std::fs::write(
        &cfg,
        "[source.generate]\nseed = 7\nmessages = 100000\ninstruments = 64\n\
         [risk]\nmax_order_qty = 10\n\
         [[strategy]]\nname = \"imb-aapl\"\nkind = \"imbalance\"\nsymbols = [\"AAPL\"]\n",
    )
    .unwrap();
    let out = dir.path().join("out");
    ok(&["run", cfg.to_str().unwrap(), "--out", out.to_str().unwrap()]);
    let orders = read(&out, "orders.csv");
    let submit = orders
        .lines()
        .find(|l| l.contains(",submit,"))
        .expect("a submit");
    assert_eq!(fields(submit)[6], "AAPL", "{submit}");
}

/// Latency figures are only what was measured: a file source does not stamp decoding (every
/// event was a 1 ns decode sample), a market-wide event sent to every lane is one decode
/// sample (the count grew with the lane count), and `--no-latency` prints no table of 0 ns
/// (and its JSON percentiles are null, not 0).
#[test]
fn latency_figures_are_only_what_was_measured() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("s.itch");
    let f = file.to_str().unwrap();
    ok(&["gen", "--seed", "7", "--messages", "50000", "-o", f]);
    let v = json(&["run", "--file", f]);
    let decode = &v["latency_ns"]["decode"];
    assert_eq!(decode["count"], 0, "{decode}");
    assert!(decode["p50"].is_null(), "{decode}");
    assert!(
        v["latency_ns"]["tick-to-decision"]["count"]
            .as_u64()
            .unwrap()
            > 0
    );

    let sent =
        |v: &serde_json::Value| v["events"].as_u64().unwrap() - v["unread"].as_u64().unwrap();
    for lanes in ["1", "2"] {
        let v = json(&["run", "--messages", "200000", "--lanes", lanes]);
        assert_eq!(
            v["latency_ns"]["decode"]["count"].as_u64().unwrap(),
            sent(&v),
            "decode samples with {lanes} lane(s)"
        );
    }

    let out = ok(&["run", "--messages", "50000", "--no-latency"]);
    assert!(out.contains("latency   not measured"), "{out}");
    assert!(!out.contains("tick-to-decision"), "{out}");
    let v = json(&["run", "--messages", "50000", "--no-latency"]);
    assert!(v["latency_ns"]["tick-to-decision"]["p50"].is_null(), "{v}");
}

/// `rate:N` spaces the source's events evenly (`Pace::Rate`: "the events counted are the
/// source's"): the generated session in memory and the same session written to a binary file
/// are one schedule, as they are one digest. The in-memory path counted every message, with an
/// event or not.
#[test]
fn rate_paces_the_same_events_in_memory_and_from_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("s.itch");
    let f = file.to_str().unwrap();
    let session = ["--seed", "7", "--messages", "20000", "--instruments", "64"];
    ok(&[&["gen"], &session[..], &["-o", f]].concat());
    let pace = "rate:10000000";
    let mem = json(&["run", "--messages", "20000", "--pace", pace]);
    let from_file = json(&["run", "--file", f, "--pace", pace]);
    assert_eq!(digest(&mem), digest(&from_file));
    assert_eq!(mem["events"], from_file["events"]);
    // N events at 10 M a second: the last is due (N - 1) × 100 ns after the first.
    let span = (mem["events"].as_u64().unwrap() - 1) * 100;
    assert_eq!(
        (
            mem["paced_span_ns"].as_u64().unwrap(),
            from_file["paced_span_ns"].as_u64().unwrap()
        ),
        (span, span),
        "paced_span_ns: in memory, from the file"
    );
}

/// README: `replay --strategy NAME` runs the named strategies "numbered afresh in configuration
/// order". A lone third strategy is then strategy 0: its order ids read `0:N`.
#[test]
fn strategies_left_in_by_strategy_are_numbered_afresh() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("three.toml");
    std::fs::write(
        &cfg,
        "[source.generate]\nseed = 7\nmessages = 200000\ninstruments = 8\n\
         [[strategy]]\nname = \"a\"\nkind = \"imbalance\"\nsymbols = [\"AAPL\"]\n\
         [[strategy]]\nname = \"b\"\nkind = \"imbalance\"\nsymbols = [\"MSFT\"]\n\
         [[strategy]]\nname = \"c\"\nkind = \"imbalance\"\nsymbols = [\"NVDA\"]\n",
    )
    .unwrap();
    let out = dir.path().join("out");
    let o = ticklane(&[
        "replay",
        "--config",
        cfg.to_str().unwrap(),
        "--strategy",
        "c",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let orders = std::fs::read_to_string(out.join("orders.csv")).unwrap();
    let first = orders.lines().nth(1).expect("c sends orders");
    let id = &fields(first)[3];
    assert!(
        id.starts_with("0:"),
        "order id {id}: strategy c kept its file index 2"
    );
}

/// The incidents of a run (here every strategy tripping a $1 daily loss
/// limit) are listed in one order on every run of one configuration, and that order does not
/// depend on how many lanes share the work: the summary (`incidents` in `summary.json` and
/// `--json`, the printed `incident` lines) is the same file run after run. They came in the
/// order the lane threads' messages reached the supervisor: a race between threads.
#[test]
fn incidents_are_listed_in_one_order_whatever_the_lanes_and_the_run() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = default_config_with(
        dir.path(),
        "tight.toml",
        "daily_loss_limit = 25_000",
        "daily_loss_limit = 1",
    );
    let c = cfg.to_str().unwrap();
    // Each incident without its lane number (which the layout decides), in the order listed.
    let order = |lanes: &str| -> Vec<String> {
        let v = json(&["run", c, "--messages", "300000", "--lanes", lanes]);
        v["incidents"]
            .as_array()
            .unwrap()
            .iter()
            .map(|i| {
                let i = i.as_str().unwrap();
                let cut = i.find("strategy:").unwrap_or(0);
                i[cut..].to_string()
            })
            .collect()
    };
    let one = order("1");
    assert!(one.len() >= 3, "{one:?}");
    let mut seen = Vec::new();
    for round in 0..8 {
        let four = order("4");
        if !seen.contains(&four) {
            seen.push(four);
        }
        assert!(
            seen.len() == 1 && seen[0] == one,
            "round {round}: incident orders seen on 4 lanes: {seen:#?}\non 1 lane: {one:#?}"
        );
    }
}

/// `orders.csv` and `fills.csv` of one run are the same rows in every
/// lane layout but for the `lane` column (each strategy's rows are, in its own order); they
/// were written lane after lane, so on two lanes lane 1's rows came after all of lane 0's,
/// out of event-time order, and the files differed by the lane count.
#[test]
fn orders_and_fills_files_list_rows_in_one_order_in_every_lane_layout() {
    let dir = tempfile::tempdir().unwrap();
    let mut files = Vec::new();
    for lanes in ["1", "2"] {
        let out = dir.path().join(format!("l{lanes}"));
        ok(&[
            "run",
            "--messages",
            "200000",
            "--lanes",
            lanes,
            "--out",
            out.to_str().unwrap(),
        ]);
        files.push(out);
    }
    // Every row without its lane column (the second).
    let rows = |d: &Path, f: &str| -> Vec<String> {
        read(d, f)
            .lines()
            .map(|l| {
                let mut c = fields(l);
                c.remove(1);
                c.join(",")
            })
            .collect()
    };
    for f in ["orders.csv", "fills.csv"] {
        let (a, b) = (rows(&files[0], f), rows(&files[1], f));
        let (mut sa, mut sb) = (a.clone(), b.clone());
        sa.sort();
        sb.sort();
        assert_eq!(sa, sb, "{f}: different rows on 1 and 2 lanes");
        let first = a.iter().zip(&b).position(|(x, y)| x != y);
        assert!(
            first.is_none(),
            "{f}: the same rows in another order on 2 lanes; first difference at row {}: 1 lane {:?}, 2 lanes {:?}",
            first.unwrap_or(0),
            a.get(first.unwrap_or(0)),
            b.get(first.unwrap_or(0))
        );
        // Event time never goes back from one row to the next.
        let ts: Vec<u64> = b[1..]
            .iter()
            .map(|l| l.split(',').next().unwrap().parse().unwrap())
            .collect();
        assert!(
            ts.windows(2).all(|w| w[0] <= w[1]),
            "{f}: rows out of time order"
        );
    }
}

/// `two.itch` in `dir`: two generated days (seeds 1 and 2, 150,000 messages each, the same
/// hours of the day) one after the other, day 2 with AAPL and MSFT at each other's stock
/// locates (1 and 2) when `swap`.
fn two_days(dir: &Path, swap: bool) {
    let path = |n: &str| dir.join(n).to_str().unwrap().to_string();
    ok(&[
        "gen",
        "--seed",
        "1",
        "--messages",
        "150000",
        "-o",
        &path("d1.itch"),
    ]);
    ok(&[
        "gen",
        "--seed",
        "2",
        "--messages",
        "150000",
        "-o",
        &path("d2.itch"),
    ]);
    let mut two = std::fs::read(path("d1.itch")).unwrap();
    let d2 = std::fs::read(path("d2.itch")).unwrap();
    two.extend(if swap {
        with_locates_swapped(&d2, 1, 2)
    } else {
        d2
    });
    std::fs::write(path("two.itch"), two).unwrap();
}

/// `bytes`, an ITCH binary file (2-byte length before each message), with stock locates `a`
/// and `b` swapped in every message: the same day, its symbols at each other's locates.
fn with_locates_swapped(bytes: &[u8], a: u16, b: u16) -> Vec<u8> {
    let mut out = bytes.to_vec();
    let mut at = 0;
    while at + 2 <= out.len() {
        let len = usize::from(u16::from_be_bytes([out[at], out[at + 1]]));
        let m = at + 2;
        let locate = u16::from_be_bytes([out[m + 1], out[m + 2]]);
        let to = if locate == a {
            b
        } else if locate == b {
            a
        } else {
            locate
        };
        out[m + 1..m + 3].copy_from_slice(&to.to_be_bytes());
        at = m + len;
    }
    out
}

/// Two trading days in one file, day 2 naming AAPL at MSFT's day-1 locate and MSFT at
/// AAPL's. The rows of `orders.csv` and `fills.csv` name each order's symbol on the day it was
/// sent (day 1's AAPL fills at locate 1 were printed as MSFT, the symbol locate 1 had at the
/// run's end), their `day` column says which day, and `equity.csv`'s too; within a day, rows
/// go forward in event time. The files are the same on one lane and two (but for `lane`).
#[test]
fn report_rows_name_the_symbol_and_the_trading_day_they_happened_on() {
    let dir = tempfile::tempdir().unwrap();
    let path = |n: &str| dir.path().join(n).to_str().unwrap().to_string();
    two_days(dir.path(), true);
    let run = |lanes: &str| {
        let cfg = dir.path().join(format!("c{lanes}.toml"));
        std::fs::write(
            &cfg,
            format!(
                "[engine]\nlanes = {lanes}\n\
                 [[strategy]]\nname = \"imb-aapl\"\nkind = \"imbalance\"\nsymbols = [\"AAPL\"]\n\
                 [[strategy]]\nname = \"imb-msft\"\nkind = \"imbalance\"\nsymbols = [\"MSFT\"]\n\
                 lane = {}\n",
                if lanes == "2" { 1 } else { 0 }
            ),
        )
        .unwrap();
        let out = dir.path().join(format!("out{lanes}"));
        ok(&[
            "run",
            cfg.to_str().unwrap(),
            "--file",
            &path("two.itch"),
            "--out",
            out.to_str().unwrap(),
        ]);
        out
    };
    let (one, two_lanes) = (run("1"), run("2"));
    let summary: serde_json::Value = serde_json::from_str(&read(&one, "summary.json")).unwrap();
    assert_eq!(summary["days"], 2);
    let fills = read(&one, "fills.csv");
    assert!(fills.lines().next().unwrap().ends_with(",fee,day"));
    // (strategy, day) -> (instruments, symbols) of its fills.
    type Named = (
        std::collections::BTreeSet<String>,
        std::collections::BTreeSet<String>,
    );
    let mut seen: std::collections::BTreeMap<(String, String), Named> = Default::default();
    for line in fills.lines().skip(1) {
        let f = fields(line);
        let e = seen.entry((f[2].clone(), f[12].clone())).or_default();
        e.0.insert(f[4].clone());
        e.1.insert(f[5].clone());
    }
    let one_of = |v: &[&str]| v.iter().map(|s| s.to_string()).collect();
    for (strategy, symbol, day1, day2) in [
        ("imb-aapl", "AAPL", "1", "2"),
        ("imb-msft", "MSFT", "2", "1"),
    ] {
        for (day, locate) in [("1", day1), ("2", day2)] {
            let Some((instruments, symbols)) = seen.get(&(strategy.into(), day.into())) else {
                panic!("{strategy}: no fill on day {day}: {seen:?}");
            };
            assert_eq!(*instruments, one_of(&[locate]), "{strategy} day {day}");
            assert_eq!(*symbols, one_of(&[symbol]), "{strategy} day {day}");
        }
    }
    let orders = read(&one, "orders.csv");
    for line in orders.lines().skip(1) {
        let f = fields(line);
        if !f[6].is_empty() {
            let own = if f[2] == "imb-aapl" { "AAPL" } else { "MSFT" };
            assert_eq!(f[6], own, "{line}");
        }
    }
    for file in ["orders.csv", "fills.csv"] {
        let key = |l: &str| {
            let f = fields(l);
            (
                f.last().unwrap().parse::<u32>().unwrap(),
                f[0].parse::<u64>().unwrap(),
            )
        };
        let text = read(&one, file);
        let keys: Vec<_> = text.lines().skip(1).map(key).collect();
        assert!(
            keys.windows(2).all(|w| w[0] <= w[1]),
            "{file}: out of order"
        );
        assert!(keys.iter().any(|k| k.0 == 2), "{file}: no day 2");
        let without_lane = |t: &str| -> Vec<String> {
            t.lines()
                .map(|l| {
                    let mut f = fields(l);
                    f.remove(1);
                    f.join(",")
                })
                .collect()
        };
        assert_eq!(
            without_lane(&text),
            without_lane(&read(&two_lanes, file)),
            "{file}: 1 lane vs 2"
        );
    }
    let equity = read(&one, "equity.csv");
    let mut days = std::collections::BTreeMap::<String, Vec<(u32, u64)>>::new();
    for line in equity.lines().skip(1) {
        let f = fields(line);
        days.entry(f[0].clone())
            .or_default()
            .push((f[4].parse().unwrap(), f[1].parse().unwrap()));
    }
    for (strategy, rows) in &days {
        assert!(
            rows.windows(2).all(|w| w[0] < w[1]),
            "{strategy}: equity rows out of order"
        );
        assert_eq!(rows.first().map(|r| r.0), Some(1), "{strategy}");
        assert_eq!(rows.last().map(|r| r.0), Some(2), "{strategy}");
    }
    assert_eq!(equity, read(&two_lanes, "equity.csv"));
    // The chart draws day 2 after day 1 (its times started again at midnight: they were
    // drawn over day 1's).
    let svg = read(&one, "equity.svg");
    assert!(svg.contains(">d2 "), "no tick of day 2 on the equity chart");
}

/// The daily loss limit is the day's: a strategy it stops on day 1 trades again on day 2 of
/// a two-day file (it stayed stopped for every later day: a backtest over many days lost
/// every strategy that once had a bad day). Its orders of day 2 are accepted, after the
/// trip of day 1.
#[test]
fn a_strategy_its_daily_loss_limit_stopped_trades_again_the_next_day() {
    let dir = tempfile::tempdir().unwrap();
    let path = |n: &str| dir.path().join(n).to_str().unwrap().to_string();
    two_days(dir.path(), false);
    let text =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("config/run.toml"))
            .unwrap()
            .replace("daily_loss_limit = 25_000", "daily_loss_limit = 1");
    std::fs::write(path("tight.toml"), text).unwrap();
    let out = ok(&[
        "run",
        &path("tight.toml"),
        "--file",
        &path("two.itch"),
        "--out",
        &path("out"),
    ]);
    assert!(
        out.lines()
            .any(|l| l.contains("tripped its risk limit daily_loss_limit")
                && l.contains("strategy imb-aapl ")),
        "{out}"
    );
    let orders = read(&dir.path().join("out"), "orders.csv");
    let accepted = |day: &str| {
        orders
            .lines()
            .skip(1)
            .map(fields)
            .filter(|f| f[2] == "imb-aapl" && f[4] == "accepted" && f[12] == day)
            .count()
    };
    assert!(accepted("1") > 0, "imb-aapl traded on day 1");
    assert!(
        accepted("2") > 0,
        "imb-aapl, stopped by its daily loss limit on day 1, sent nothing on day 2"
    );
}

/// `days.csv`, a run's daily figures, on two trading days: one row per strategy and day; the
/// days' P&L add up to the strategy's net P&L, their fills, shares and fees to `fills.csv`'s
/// and the summary's; each day's net is the last `equity.csv` sample of that day (a close
/// sample at day 1's last event time, before day 2 empties the books); the file is the same on
/// one lane and two; a replay of day 2 alone numbers its row 2.
#[test]
fn days_csv_adds_up_to_the_run_s_fills_and_p_and_l() {
    use rust_decimal::Decimal;
    use std::collections::BTreeMap;
    use std::str::FromStr;
    let dir = tempfile::tempdir().unwrap();
    let path = |n: &str| dir.path().join(n).to_str().unwrap().to_string();
    two_days(dir.path(), false);
    // Day 1 cut after its first 100,000 messages (mid-session, at a time that is not a whole
    // second, where no periodic mark falls), then day 2.
    let d1_cut = {
        let d = std::fs::read(path("d1.itch")).unwrap();
        let mut at = 0;
        for _ in 0..100_000 {
            at += 2 + usize::from(u16::from_be_bytes([d[at], d[at + 1]]));
        }
        d[..at].to_vec()
    };
    std::fs::write(path("d1.itch"), &d1_cut).unwrap();
    let mut two = d1_cut;
    two.extend(std::fs::read(path("d2.itch")).unwrap());
    std::fs::write(path("two.itch"), two).unwrap();
    let run = |lanes: &str, extra: &[&str]| {
        let out = path(&format!("out{lanes}{}", extra.len()));
        let mut args = vec!["replay", "--lanes", lanes, "--out", &out];
        args.extend_from_slice(extra);
        ok(&args);
        std::path::PathBuf::from(out)
    };
    let one = run("1", &[&path("two.itch")]);
    let two = run("2", &[&path("two.itch")]);
    let days = read(&one, "days.csv");
    assert_eq!(days, read(&two, "days.csv"), "days.csv differs by layout");
    let dec = |s: &str| Decimal::from_str(s).unwrap();
    // strategy -> rows (day, fills, bought, sold, fees, net, pnl)
    let mut rows: BTreeMap<String, Vec<Vec<String>>> = BTreeMap::new();
    let mut lines = days.lines();
    assert_eq!(
        lines.next().unwrap(),
        "strategy,day,fills,bought,sold,fees,net_pnl,day_pnl,max_drawdown,close_ts_ns"
    );
    for l in lines {
        let f: Vec<String> = l.split(',').map(str::to_string).collect();
        rows.entry(f[0].clone()).or_default().push(f);
    }
    let summary: serde_json::Value = serde_json::from_str(&read(&one, "summary.json")).unwrap();
    let strategies = summary["strategies"].as_array().unwrap();
    assert_eq!(rows.len(), strategies.len());
    // fills.csv per strategy: (fills, bought, sold, fees) and per day.
    let fills_csv = read(&one, "fills.csv");
    let mut from_fills: BTreeMap<(String, String), (u64, u64, u64, Decimal)> = BTreeMap::new();
    for l in fills_csv.lines().skip(1) {
        let f: Vec<&str> = l.split(',').collect();
        let e = from_fills
            .entry((f[2].to_string(), f[12].to_string()))
            .or_insert((0, 0, 0, Decimal::ZERO));
        e.0 += 1;
        let q: u64 = f[8].parse().unwrap();
        if f[6] == "Bid" {
            e.1 += q;
        } else {
            e.2 += q;
        }
        e.3 += dec(f[11]);
    }
    let equity = read(&one, "equity.csv");
    // Day 1's last event time: the last message of d1.itch (bytes 5..11 of the message after
    // its 2-byte length).
    let d1_last = {
        let d = std::fs::read(path("d1.itch")).unwrap();
        let (mut at, mut ts) = (0, 0u64);
        while at + 2 <= d.len() {
            let len = usize::from(u16::from_be_bytes([d[at], d[at + 1]]));
            let m = &d[at + 2..at + 2 + len];
            ts = m[5..11].iter().fold(0, |a, &b| (a << 8) | u64::from(b));
            at += 2 + len;
        }
        assert_ne!(ts % 1_000_000_000, 0, "day 1 ends on a whole second");
        ts.to_string()
    };
    let mut traded_on_day_1 = false;
    let mut traded_on_day_2 = false;
    for s in strategies {
        let name = s["name"].as_str().unwrap();
        let r = &rows[name];
        assert_eq!(
            r.iter().map(|f| f[1].as_str()).collect::<Vec<_>>(),
            ["1", "2"]
        );
        let pnl: Decimal = r.iter().map(|f| dec(&f[7])).sum();
        assert_eq!(pnl, dec(s["pnl"]["net"].as_str().unwrap()), "{name}");
        assert_eq!(
            dec(&r[1][6]),
            dec(s["pnl"]["net"].as_str().unwrap()),
            "{name}"
        );
        let fills: u64 = r.iter().map(|f| f[2].parse::<u64>().unwrap()).sum();
        assert_eq!(fills, s["fills"].as_u64().unwrap(), "{name}");
        let fees: Decimal = r.iter().map(|f| dec(&f[5])).sum();
        assert_eq!(fees, dec(s["pnl"]["fees"].as_str().unwrap()), "{name}");
        for f in r {
            let want = from_fills
                .get(&(name.to_string(), f[1].clone()))
                .copied()
                .unwrap_or((0, 0, 0, Decimal::ZERO));
            let got = (
                f[2].parse().unwrap(),
                f[3].parse().unwrap(),
                f[4].parse().unwrap(),
                dec(&f[5]),
            );
            assert_eq!(got, want, "{name} day {}", f[1]);
            // The day's net is its last equity sample, at the close time given.
            let last = equity.lines().rfind(|l| {
                l.starts_with(&format!("{name},")) && l.ends_with(&format!(",{}", f[1]))
            });
            match last {
                Some(l) => {
                    let e: Vec<&str> = l.split(',').collect();
                    assert_eq!(dec(e[2]), dec(&f[6]), "{name} day {}", f[1]);
                    assert_eq!(e[1], f[9], "{name} day {}", f[1]);
                }
                None => assert_eq!(
                    f[9], "",
                    "{name} day {}: a close time without samples",
                    f[1]
                ),
            }
        }
        traded_on_day_2 |= r[1][2] != "0";
        // The summary's `days` say the same (and need no `--out`: the JSON of a run without
        // it is checked below).
        let days_json = s["days"].as_array().unwrap();
        assert_eq!(days_json.len(), 2, "{name}");
        for (j, f) in days_json.iter().zip(r) {
            assert_eq!(j["day"].to_string(), f[1]);
            assert_eq!(j["fills"].to_string(), f[2]);
            assert_eq!(j["net_pnl"].as_str().unwrap(), f[6]);
            assert_eq!(j["day_pnl"].as_str().unwrap(), f[7]);
        }
        // Day 1 closes at its last event time: a sample there (day 2 then restarts).
        if r[0][2] != "0" {
            traded_on_day_1 = true;
            assert_eq!(r[0][9], d1_last, "{name}: day 1's close");
        }
    }
    assert!(
        traded_on_day_1 && traded_on_day_2,
        "a day without fills: nothing checked there"
    );
    let plain = json(&["replay", &path("two.itch")]);
    for (a, b) in plain["strategies"]
        .as_array()
        .unwrap()
        .iter()
        .zip(strategies)
    {
        assert_eq!(a["days"], b["days"], "--json without --out");
    }
    // A replay of day 2 alone: its rows say day 2, with day 2's own figures of a run of its
    // file (the strategies start flat).
    let d2 = run("1", &[&path("two.itch"), "--day", "2"]);
    let own = run("1", &[&path("d2.itch")]);
    let cut = |t: String| -> Vec<String> {
        t.lines()
            .skip(1)
            .map(|l| {
                let mut f: Vec<&str> = l.split(',').collect();
                assert!(f[1] == "2" || f[1] == "1");
                f.remove(1);
                f.join(",")
            })
            .collect()
    };
    let d2_days = read(&d2, "days.csv");
    assert!(
        d2_days
            .lines()
            .skip(1)
            .all(|l| l.split(',').nth(1) == Some("2")),
        "{d2_days}"
    );
    assert_eq!(cut(d2_days), cut(read(&own, "days.csv")));
}
