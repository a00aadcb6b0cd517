#!/usr/bin/env bash
# The book alone, A/B in one process: the working tree's `engine/book` (uncommitted edits
# included) against revision REV's (default HEAD: try an edit against the last commit), on the
# same pre-decoded events of a generated session, alternately, ROUNDS rounds (default 21). A
# shared VM drifts too much for two separate runs to compare; within one process the two meet
# the same drift, round by round (an A/A run, the same book on both sides, is in BENCHMARKS.md
# to show the noise left). Builds a scratch crate under target/book-ab (its own workspace,
# release profile as the project's): REV's `engine/book/src` is compiled against the working
# tree's `engine/core`, with `thiserror` its only other dependency.
# Usage: benches/book_ab.sh [REV] [ROUNDS] [MESSAGES] [SEED]
set -euo pipefail
cd "$(dirname "$0")/.."
rev=${1:-HEAD}
rounds=${2:-21}
messages=${3:-2000000}
seed=${4:-7}
for v in "$rounds" "$messages" "$seed"; do
    [[ $v =~ ^[0-9]+$ ]] || { echo "ROUNDS, MESSAGES and SEED are whole numbers (got $v)" >&2; exit 2; }
done
root=$(pwd)
dir=target/book-ab
# The sources only: the scratch crate's own build directory is kept between runs.
rm -rf "$dir/old/src" "$dir/src"
mkdir -p "$dir/old" "$dir/src"
git archive "$rev" engine/book/src | tar -x -C "$dir/old" --strip-components=2
cat > "$dir/old/Cargo.toml" <<TOML
[package]
name = "book_old"
version = "0.0.0"
edition = "2021"
publish = false

[dependencies]
ticklane-core = { path = "$root/engine/core" }
thiserror = "2"
TOML
cat > "$dir/Cargo.toml" <<TOML
[package]
name = "book-ab"
version = "0.0.0"
edition = "2021"
publish = false

[workspace]
members = [".", "old"]

[dependencies]
book_old = { path = "old" }
ticklane-book = { path = "$root/engine/book" }
ticklane-core = { path = "$root/engine/core" }
ticklane-feeds = { path = "$root/feeds" }

[profile.release]
lto = "thin"
codegen-units = 1
debug = 1
TOML
cat > "$dir/src/main.rs" <<'RUST'
//! `benches/book_ab.sh`'s program: the working tree's `engine/book` (`ticklane_book`) against
//! another revision's (`book_old`, copied by the script), in one process, on the same
//! pre-decoded events of a generated session, alternately (the order swapped every round), so
//! that the drift of a shared machine hits both alike. Prints each side's events/s per round
//! and the median and range of the per-round ratio new ÷ old.

// A benchmark: reading the clock is its purpose.
#![allow(clippy::disallowed_methods)]

use std::time::Instant;

use ticklane_core::MarketEvent;
use ticklane_feeds::events::for_each_event;
use ticklane_feeds::synth::{generate_framed, SynthConfig};

fn arg(i: usize, default: u64) -> u64 {
    std::env::args()
        .nth(i)
        .and_then(|s| s.parse().ok())
        .unwrap_or(default)
}

/// Events/s of one pass of `apply` over `evs`, and the number of top-of-book changes (which
/// must agree between the two books).
macro_rules! pass {
    ($market:ty, $evs:expr) => {{
        let mut m = <$market>::with_capacity(1 << 16, 1024);
        let mut changes = 0u64;
        let t = Instant::now();
        for e in $evs {
            changes += u64::from(m.apply(e).top_changed());
        }
        let rate = $evs.len() as f64 / t.elapsed().as_secs_f64() / 1e6;
        std::hint::black_box(&m);
        (rate, changes)
    }};
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    let n = v.len();
    (v[(n - 1) / 2] + v[n / 2]) / 2.0
}

fn main() {
    let rounds = arg(1, 21).max(1);
    let messages = arg(2, 2_000_000);
    let seed = arg(3, 7);
    let buf = generate_framed(SynthConfig {
        seed,
        messages,
        instruments: 64,
    })
    .expect("the generator's session");
    let mut evs: Vec<MarketEvent> = Vec::new();
    for_each_event(&buf, |ev| evs.push(*ev));
    println!(
        "book A/B: {} events (seed {seed}, {messages} messages, 64 instruments), {rounds} rounds; M events/s",
        evs.len()
    );
    let (mut old, mut new, mut ratio) = (Vec::new(), Vec::new(), Vec::new());
    for r in 0..rounds {
        let (o, n) = if r % 2 == 0 {
            let o = pass!(book_old::Market, &evs);
            (o, pass!(ticklane_book::Market, &evs))
        } else {
            let n = pass!(ticklane_book::Market, &evs);
            (pass!(book_old::Market, &evs), n)
        };
        assert_eq!(
            o.1, n.1,
            "the two books disagree on the top-of-book changes"
        );
        println!(
            "{:>5}  old {:6.1}  new {:6.1}  new/old {:.3}",
            r + 1,
            o.0,
            n.0,
            n.0 / o.0
        );
        old.push(o.0);
        new.push(n.0);
        ratio.push(n.0 / o.0);
    }
    let (lo, hi) = ratio
        .iter()
        .fold((f64::MAX, f64::MIN), |(lo, hi), &x| (lo.min(x), hi.max(x)));
    println!(
        "median: old {:.1}, new {:.1}; new/old per round: median {:.3}, range {lo:.3}-{hi:.3}",
        median(old),
        median(new),
        median(ratio)
    );
}
RUST
cp Cargo.lock "$dir/Cargo.lock"
(cd "$dir" && CARGO_TARGET_DIR=target cargo build --release -q)
"$dir/target/release/book-ab" "$rounds" "$messages" "$seed"
