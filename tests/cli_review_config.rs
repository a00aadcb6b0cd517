//! Review (config): command-line flags that override or stand beside configuration keys are
//! checked the way the keys are, and are not ignored without a word.

#![allow(clippy::unwrap_used)]

use std::process::{Command, Output};

const BIN: &str = env!("CARGO_BIN_EXE_ticklane");

fn ticklane(args: &[&str]) -> Output {
    Command::new(BIN).args(args).output().unwrap()
}

/// A configuration whose source is a live feed that never sends: the run ends after 0.3 s of
/// silence.
fn quiet_live_config(dir: &std::path::Path) -> String {
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
fn review_a_pace_flag_with_a_configured_live_feed_is_checked_and_not_ignored() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = quiet_live_config(dir.path());
    let o = ticklane(&["run", &cfg, "--pace", "slow"]);
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        !o.status.success() && err.contains("--pace"),
        "run --pace slow: exit {:?}, stderr:\n{err}",
        o.status.code()
    );
    let out = dir.path().join("report");
    let o = ticklane(&[
        "paper",
        "--config",
        &cfg,
        "--pace",
        "10x",
        "--out",
        out.to_str().unwrap(),
        "--json",
    ]);
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
fn review_replay_symbols_a_feed_never_sends_are_refused_like_the_configuration_does() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("s.itch");
    let f = file.to_str().unwrap();
    let gen = ticklane(&["gen", "--seed", "3", "--messages", "20000", "--output", f]);
    assert!(gen.status.success());
    for sym in [" AAPL", "AA PL", "AAPL\t", ""] {
        let o = ticklane(&["replay", f, "--symbols", sym, "--json"]);
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
fn review_an_empty_run_does_not_blame_engine_latency() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = quiet_live_config(dir.path());
    let o = ticklane(&["run", &cfg]);
    assert!(o.status.success());
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(
        !out.contains("engine.latency = false, or --no-latency"),
        "latency was on (engine.latency defaults to true, no --no-latency):\n{out}"
    );
}
