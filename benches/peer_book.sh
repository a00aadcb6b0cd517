#!/usr/bin/env bash
# Book throughput of ticklane against the fastest peer ITCH book builder that runs here, on the
# same generated file, round after round on the same machine:
#   - ticklane: `ticklane bench --file F --passes 3` (decode + normalize + every book, one
#     thread, in memory; best of 3 passes)
#   - itch-book (PyPI, C++23 core): the whole file through `itch_book.open(...).batches(...)`,
#     building every book and emitting its BBO table (its natural unit of work; best of 2)
# A shared VM's speed drifts from one stretch of seconds to the next, so each round runs both
# back to back and the ratio is taken within the round; the summary gives its median and range.
# With TICKLANE_OLD=/path/to/an/older/ticklane, each round also runs that binary (before the
# current one), and the summary adds the current ÷ older ratio: an A/B of two builds.
# Needs the cross-check venv: `bash tests/crosscheck/run.sh` creates it.
# Usage: benches/peer_book.sh [MESSAGES] [SEED] [ROUNDS]
set -euo pipefail
cd "$(dirname "$0")/.."
messages=${1:-5000000}
seed=${2:-1}
rounds=${3:-5}
py=tests/crosscheck/.venv/bin/python
[ -x "$py" ] || { echo "run: bash tests/crosscheck/run.sh (creates the venv with itch-book)" >&2; exit 2; }
old=${TICKLANE_OLD:-}
[ -z "$old" ] || [ -x "$old" ] || { echo "TICKLANE_OLD=$old is not an executable" >&2; exit 2; }
cargo build --release -q
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
file=$dir/session.itch
target/release/ticklane gen --seed "$seed" --messages "$messages" --instruments 64 -o "$file" 2>/dev/null
book_stage() { "$1" bench --file "$file" --passes 3 2>&1 | awk '/^decode\+normalize\+book /{print $2}'; }
echo "round  ticklane  ${old:+older  }itch-book  (M messages/s; $messages messages, seed $seed)"
: > "$dir/rows"
for r in $(seq 1 "$rounds"); do
    o=-
    [ -z "$old" ] || o=$(book_stage "$old")
    t=$(book_stage target/release/ticklane)
    p=$("$py" benches/peer_book.py "$file" 2 | awk '/M messages/{print $2}')
    echo "$r  $t  ${old:+$o  }$p"
    echo "$t $o $p" >> "$dir/rows"
done
"$py" - "$dir/rows" <<'EOF'
import statistics, sys
rows = [line.split() for line in open(sys.argv[1])]
def summary(name, ratios):
    print(f"{name}: median {statistics.median(ratios):.2f}, range {min(ratios):.2f}-{max(ratios):.2f}")
summary("ticklane / itch-book", [float(t) / float(p) for t, _, p in rows])
if rows[0][1] != "-":
    summary("older / itch-book", [float(o) / float(p) for _, o, p in rows])
    summary("ticklane / older", [float(t) / float(o) for t, o, _ in rows])
EOF
