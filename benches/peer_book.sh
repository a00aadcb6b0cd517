#!/usr/bin/env bash
# Book throughput of ticklane against the fastest peer ITCH book builder that runs here, on the
# same generated file, round after round on the same machine:
#   - ticklane: `ticklane bench --file F --passes 3`, its "decode+normalize+book" row (decode +
#     normalize + every book, one thread, in memory; best of 3 passes; the command also times
#     its other stages, decode alone and the lane, which this script does not use)
#   - itch-book (PyPI, C++23 core): the whole file through `itch_book.open(...).batches(...)`,
#     building every book and emitting its BBO table (its natural unit of work; best of 3, as
#     ticklane: the minimum of more passes would favour its side; its time includes opening
#     the file, which the page cache holds, where ticklane reads the file before its clock)
# A shared VM's speed drifts from one stretch of seconds to the next, so each round runs both
# back to back and the ratio is taken within the round; the summary gives its median and range.
# With TICKLANE_OLD=/path/to/an/older/ticklane (a copy: this script rebuilds
# target/release/ticklane), each round also runs that binary (before the current one), and the
# summary adds the current ÷ older ratio: an A/B of two builds. The older build must know
# `bench --file` (4923ec4 and later).
# Needs the cross-check venv: `bash tests/crosscheck/run.sh` creates it.
# Usage: benches/peer_book.sh [MESSAGES] [SEED] [ROUNDS]
set -euo pipefail
old=${TICKLANE_OLD:+$(realpath "$TICKLANE_OLD")}
cd "$(dirname "$0")/.."
messages=${1:-5000000}
seed=${2:-1}
rounds=${3:-5}
[[ $rounds =~ ^[1-9][0-9]*$ ]] || { echo "ROUNDS: a whole number from 1 (got $rounds)" >&2; exit 2; }
py=tests/crosscheck/.venv/bin/python
[ -x "$py" ] || { echo "run: bash tests/crosscheck/run.sh (creates the venv with itch-book)" >&2; exit 2; }
# The binary cargo builds, wherever it puts it (CARGO_TARGET_DIR moves it).
tl="$(cargo metadata --no-deps --format-version 1 |
      "$py" -c 'import json, sys; print(json.load(sys.stdin)["target_directory"])')/release/ticklane"
if [ -n "$old" ]; then
    [ -f "$old" ] && [ -x "$old" ] || { echo "TICKLANE_OLD=$old is not an executable file" >&2; exit 2; }
    [ "$old" != "$(realpath -m "$tl")" ] ||
        { echo "TICKLANE_OLD is the binary this script rebuilds: copy it elsewhere first" >&2; exit 2; }
fi
cargo build --release -q
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
file=$dir/session.itch
"$tl" gen --seed "$seed" --messages "$messages" --instruments 64 -o "$file" \
    > "$dir/gen.log" 2>&1 || { cat "$dir/gen.log" >&2; exit 1; }
# One figure from a command's output, or the output and a clear error.
figure() { # NAME OUTPUT AWK-PROGRAM
    local v
    v=$(printf '%s\n' "$2" | awk "$3")
    [ -n "$v" ] || { printf '%s\n' "$2" >&2; echo "no figure for $1 in the output above" >&2; exit 1; }
    echo "$v"
}
book_stage() { # BINARY
    local out
    out=$("$1" bench --file "$file" --passes 3 2>&1) || { printf '%s\n' "$out" >&2; exit 1; }
    figure "$1" "$out" '/^decode\+normalize\+book /{print $2}'
}
echo "round  ticklane  ${old:+older  }itch-book  (M messages/s; $messages messages, seed $seed)"
: > "$dir/rows"
for r in $(seq 1 "$rounds"); do
    o=-
    [ -z "$old" ] || o=$(book_stage "$old")
    t=$(book_stage "$tl")
    out=$("$py" benches/peer_book.py "$file" 3 2>&1) || { printf '%s\n' "$out" >&2; exit 1; }
    p=$(figure itch-book "$out" '/M messages/{print $2}')
    echo "$r  $t  ${old:+$o  }$p"
    echo "$t $o $p" >> "$dir/rows"
done
"$py" - "$dir/rows" <<'EOF'
import statistics, sys
rows = [line.split() for line in open(sys.argv[1])]
def summary(name, values):
    print(f"{name}: median {statistics.median(values):.2f}, range {min(values):.2f}-{max(values):.2f}")
summary("ticklane M messages/s", [float(t) for t, _, _ in rows])
if rows[0][1] != "-":
    summary("older M messages/s", [float(o) for _, o, _ in rows])
summary("itch-book M messages/s", [float(p) for _, _, p in rows])
summary("ticklane / itch-book, per round", [float(t) / float(p) for t, _, p in rows])
if rows[0][1] != "-":
    summary("older / itch-book, per round", [float(o) / float(p) for _, o, p in rows])
    summary("ticklane / older, per round", [float(t) / float(o) for t, o, _ in rows])
EOF
