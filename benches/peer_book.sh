#!/usr/bin/env bash
# Book throughput of ticklane against the fastest peer ITCH book builder that runs here, on the
# same generated file, back to back on the same machine:
#   - ticklane: `ticklane bench --file F` (decode + normalize + every book, one thread, in memory)
#   - itch-book (PyPI, C++23 core): the whole file through `itch_book.open(...).batches(...)`,
#     building every book and emitting its BBO table (its natural unit of work)
# Needs the cross-check venv: `bash tests/crosscheck/run.sh` creates it.
# Usage: benches/peer_book.sh [MESSAGES] [SEED]
set -euo pipefail
cd "$(dirname "$0")/.."
messages=${1:-5000000}
seed=${2:-1}
py=tests/crosscheck/.venv/bin/python
[ -x "$py" ] || { echo "run: bash tests/crosscheck/run.sh (creates the venv with itch-book)" >&2; exit 2; }
cargo build --release -q
file=$(mktemp -d)/session.itch
target/release/ticklane gen --seed "$seed" --messages "$messages" --instruments 64 -o "$file" 2>/dev/null
echo "== ticklane (best of 5)"
target/release/ticklane bench --file "$file" --passes 5
echo "== itch-book (best of 3)"
"$py" benches/peer_book.py "$file" 3
