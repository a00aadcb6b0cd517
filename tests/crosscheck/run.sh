#!/usr/bin/env bash
# Set up the cross-check venv and regenerate (or, with --check, verify) the
# golden files in tests/golden from INDEPENDENT ITCH 5.0 implementations.
#
#   bash tests/crosscheck/run.sh           # install, cross-compare, rewrite goldens
#   bash tests/crosscheck/run.sh --check   # install, cross-compare, diff vs goldens
#
# The generated-session goldens (gen_seed7_60k_*) need cargo: the input is
# `ticklane gen --seed 7 --messages 60000 --instruments 8`, from the release build.
# ticklane's own output is then compared with them (inspect, bbo, and every
# field of every message via `cargo test --test crosscheck_generated`); set
# CROSSCHECK_SKIP_RUST=1 to skip that.  A ticklane difference exits 1 but does
# not stop the goldens from being written.
#
# Data: $ITCH_DATA_DIR, default <repo>/../shared/data/itch.  Python: $PYTHON,
# default python3.11 (else python3).  Needs PyPI access for the first install.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"
GOLDEN="$ROOT/tests/golden"
DATA="${ITCH_DATA_DIR:-$ROOT/../shared/data/itch}"
AAPL="$DATA/nasdaq_20200130_aapl_first10k.itch50"
ZERO="$DATA/ritch_ex20101224_zero_prefix.itch50"
MODE="${1:-write}"
# generated session (input only; regenerated, never committed)
GEN_SEED=7
GEN_MESSAGES=60000
GEN_INSTRUMENTS=8
GEN_SYMBOLS="AAPL MSFT"

if [[ ! -f "$AAPL" ]]; then
  echo "run.sh: $AAPL not found (set ITCH_DATA_DIR)" >&2
  exit 2
fi

PY_BOOT="${PYTHON:-$(command -v python3.11 || command -v python3)}"
VENV="$HERE/.venv"
if [[ ! -x "$VENV/bin/python" ]]; then
  "$PY_BOOT" -m venv "$VENV"
fi
"$VENV/bin/pip" install --quiet --disable-pip-version-check -r "$HERE/requirements.txt"
PY="$VENV/bin/python"

OUT="$(mktemp -d)"
trap 'rm -rf "$OUT"' EXIT
fail=0
rust_fail=0

echo "== decoders: itchfeed (pure Python), itchcpp, meatpy: full decode must agree"
for impl in itchfeed itchcpp meatpy; do
  "$PY" "$HERE/itch_decode.py" "$AAPL" --impl "$impl" --sample 1000000 > "$OUT/full_$impl.json"
done
for impl in itchcpp meatpy; do
  if ! "$PY" "$HERE/compare.py" "$OUT/full_itchfeed.json" "$OUT/full_$impl.json" >/dev/null; then
    echo "DISAGREE: itchfeed vs $impl (full decode)"; fail=1
  fi
done
"$PY" "$HERE/itch_decode.py" "$AAPL" --impl itchfeed --sample 5 > "$OUT/aapl_first10k_decode.json"

echo "== books: itch-book, meatpy, itchcpp (+ naive, not independent): BBO must agree"
for impl in itchbook meatpy itchcpp naive; do
  "$PY" "$HERE/bbo.py" "$AAPL" --locate 13 --impl "$impl" --depth 5 \
      --book-out "$OUT/book_$impl.json" > "$OUT/bbo_$impl.csv"
done
for impl in meatpy itchcpp naive; do
  if ! cmp -s "$OUT/bbo_itchbook.csv" "$OUT/bbo_$impl.csv"; then
    echo "DISAGREE: itchbook vs $impl (BBO)"
    "$PY" "$HERE/compare.py" "$OUT/bbo_itchbook.csv" "$OUT/bbo_$impl.csv" --max 5 || true
    fail=1
  fi
done
cp "$OUT/bbo_itchbook.csv" "$OUT/aapl_first10k_bbo.csv"
# final book: itch-book's, checked equal to meatpy's and naive's
"$PY" - "$OUT" <<'EOF'
import json, sys
out = sys.argv[1]
books = {i: json.load(open(f"{out}/book_{i}.json"))["final_book"] for i in ("itchbook", "meatpy", "naive")}
if not (books["itchbook"] == books["meatpy"] == books["naive"]):
    print("DISAGREE: final book", books); sys.exit(1)
json.dump({"source": "bbo.py --impl itchbook --depth 5 (equal to meatpy and naive)",
           "stock_locate": 13, "levels": "[price (4 implied decimals), shares, orders], best first",
           **books["itchbook"]}, open(f"{out}/aapl_first10k_final_book.json", "w"), indent=1)
open(f"{out}/aapl_first10k_final_book.json", "a").write("\n")
EOF

echo "== synthetic C/X/U/F/P/S file: every book must match the hand-derived BBO"
"$PY" "$HERE/make_synthetic.py" "$OUT/synthetic_cux.itch50" "$OUT/synthetic_expected.csv"
for impl in itchfeed itchcpp meatpy; do
  "$PY" "$HERE/itch_decode.py" "$OUT/synthetic_cux.itch50" --impl "$impl" --sample 1000000 > "$OUT/syn_$impl.json"
done
for impl in itchcpp meatpy; do
  if ! cmp -s "$OUT/syn_itchfeed.json" "$OUT/syn_$impl.json"; then
    echo "DISAGREE: itchfeed vs $impl (synthetic decode)"; fail=1
  fi
done
cp "$OUT/syn_itchfeed.json" "$OUT/synthetic_cux_decode.json"
for impl in itchbook meatpy itchcpp naive; do
  "$PY" "$HERE/bbo.py" "$OUT/synthetic_cux.itch50" --locate 7 --impl "$impl" > "$OUT/syn_$impl.csv"
  if ! cmp -s "$OUT/synthetic_expected.csv" "$OUT/syn_$impl.csv"; then
    echo "DISAGREE: hand-derived vs $impl (synthetic BBO)"
    "$PY" "$HERE/compare.py" "$OUT/synthetic_expected.csv" "$OUT/syn_$impl.csv" --max 5 || true
    fail=1
  fi
done
cp "$OUT/syn_itchbook.csv" "$OUT/synthetic_cux_bbo.csv"

echo "== generated session: ticklane gen --seed $GEN_SEED --messages $GEN_MESSAGES --instruments $GEN_INSTRUMENTS"
# Only the INPUT comes from our binary (same seed, same bytes); every golden below
# is the output of the independent implementations.
(cd "$ROOT" && cargo build --release --quiet --bin ticklane)
# The binary just built, wherever cargo puts it (CARGO_TARGET_DIR moves it; a stale
# <repo>/target/release/ticklane would otherwise generate the input).
TL="$(cd "$ROOT" && cargo metadata --no-deps --format-version 1 |
      "$PY" -c 'import json, sys; print(json.load(sys.stdin)["target_directory"])')/release/ticklane"
GEN="$OUT/gen_seed${GEN_SEED}_60k.itch50"
"$TL" gen --seed "$GEN_SEED" --messages "$GEN_MESSAGES" --instruments "$GEN_INSTRUMENTS" \
    -o "$GEN" >/dev/null
echo "== generated: itchfeed, itchcpp, meatpy full decodes (every field) must agree"
for impl in itchfeed itchcpp meatpy; do
  "$PY" "$HERE/itch_decode.py" "$GEN" --impl "$impl" --sample 1000000 --index --all-fields \
      > "$OUT/gen_full_$impl.json"
done
for impl in itchcpp meatpy; do
  if ! "$PY" "$HERE/compare.py" "$OUT/gen_full_itchfeed.json" "$OUT/gen_full_$impl.json" >/dev/null; then
    echo "DISAGREE: itchfeed vs $impl (generated, full decode)"
    "$PY" "$HERE/compare.py" "$OUT/gen_full_itchfeed.json" "$OUT/gen_full_$impl.json" --max 5 || true
    fail=1
  fi
done
"$PY" "$HERE/itch_decode.py" "$GEN" --impl itchfeed --sample 5 --index --all-fields \
    > "$OUT/gen_seed7_60k_decode.json"
echo "== generated: itch-book, meatpy, itchcpp (+ naive): BBO and final book must agree"
for sym in $GEN_SYMBOLS; do
  for impl in itchbook meatpy itchcpp naive; do
    "$PY" "$HERE/bbo.py" "$GEN" --symbol "$sym" --impl "$impl" --depth 5 \
        --book-out "$OUT/gen_book_${sym}_$impl.json" > "$OUT/gen_bbo_${sym}_$impl.csv"
  done
  for impl in meatpy itchcpp naive; do
    if ! cmp -s "$OUT/gen_bbo_${sym}_itchbook.csv" "$OUT/gen_bbo_${sym}_$impl.csv"; then
      echo "DISAGREE: itchbook vs $impl (generated, $sym BBO)"
      "$PY" "$HERE/compare.py" "$OUT/gen_bbo_${sym}_itchbook.csv" "$OUT/gen_bbo_${sym}_$impl.csv" --max 5 || true
      fail=1
    fi
  done
  "$PY" - "$OUT" "$sym" <<'EOF2' || fail=1
import json, sys
out, sym = sys.argv[1], sys.argv[2]
books = {i: json.load(open(f"{out}/gen_book_{sym}_{i}.json"))["final_book"]
         for i in ("itchbook", "meatpy", "naive")}
if not (books["itchbook"] == books["meatpy"] == books["naive"]):
    print(f"DISAGREE: generated {sym} final book", books); sys.exit(1)
EOF2
  cp "$OUT/gen_bbo_${sym}_itchbook.csv" "$OUT/gen_seed7_60k_bbo_${sym}.csv"
done
if [[ "${CROSSCHECK_SKIP_RUST:-0}" != 1 ]]; then
  echo "== generated: ticklane (ours) vs the independent results (does not block the goldens)"
  ours="$("$TL" inspect "$GEN" --json)"
  if ! "$PY" - "$OUT/gen_full_itchfeed.json" "$ours" <<'EOF2'; then rust_fail=1; fi
import json, sys
ref, ours = json.load(open(sys.argv[1])), json.loads(sys.argv[2])
bad = [k for k in ("messages", "by_type") if ref[k] != ours[k]]
for k in bad:
    print(f"RUST DIFFERS: inspect {k}: independent {ref[k]} ours {ours[k]}")
sys.exit(1 if bad else 0)
EOF2
  for sym in $GEN_SYMBOLS; do
    "$TL" bbo "$GEN" --symbol "$sym" > "$OUT/gen_ours_$sym.csv"
    if ! cmp -s "$OUT/gen_seed7_60k_bbo_${sym}.csv" "$OUT/gen_ours_$sym.csv"; then
      echo "RUST DIFFERS: ticklane bbo --symbol $sym"
      "$PY" "$HERE/compare.py" "$OUT/gen_seed7_60k_bbo_${sym}.csv" "$OUT/gen_ours_$sym.csv" --max 5 || true
      rust_fail=1
    fi
  done
  # every field of all messages, with our library decoder (tests/crosscheck_generated.rs)
  if ! (cd "$ROOT" && CROSSCHECK_FULL_DECODE="$OUT/gen_full_itchfeed.json" \
        cargo test --quiet --test crosscheck_generated -- --include-ignored >"$OUT/cargo_test.log" 2>&1); then
    echo "RUST DIFFERS: cargo test --test crosscheck_generated (full decode):"
    tail -n 30 "$OUT/cargo_test.log"
    rust_fail=1
  fi
fi

if [[ -f "$ZERO" ]]; then
  echo "== zero-prefix file: every independent reader must reject it (exit 2)"
  for impl in itchfeed itchcpp meatpy; do
    set +e; "$PY" "$HERE/itch_decode.py" "$ZERO" --impl "$impl" >/dev/null 2>&1; rc=$?; set -e
    if [[ $rc -ne 2 ]]; then echo "UNEXPECTED: $impl exit $rc on $ZERO"; fail=1; fi
  done
fi

GOLDENS="aapl_first10k_decode.json aapl_first10k_bbo.csv aapl_first10k_final_book.json
         synthetic_cux.itch50 synthetic_cux_decode.json synthetic_cux_bbo.csv
         gen_seed7_60k_decode.json gen_seed7_60k_bbo_AAPL.csv gen_seed7_60k_bbo_MSFT.csv"
if [[ "$MODE" == "--check" ]]; then
  echo "== compare with committed goldens"
  for g in $GOLDENS; do
    if ! cmp -s "$GOLDEN/$g" "$OUT/$g"; then
      echo "GOLDEN MISMATCH: $g"
      "$PY" "$HERE/compare.py" "$GOLDEN/$g" "$OUT/$g" --max 5 || true
      fail=1
    fi
  done
elif [[ $fail -eq 0 ]]; then
  mkdir -p "$GOLDEN"
  for g in $GOLDENS; do cp "$OUT/$g" "$GOLDEN/$g"; done
  echo "== wrote to $GOLDEN:" $GOLDENS
fi

echo "BBO lines: $(($(wc -l < "$OUT/aapl_first10k_bbo.csv") - 1))"
for sym in $GEN_SYMBOLS; do
  echo "BBO lines, generated $sym: $(($(wc -l < "$OUT/gen_seed7_60k_bbo_$sym.csv") - 1))"
done
if [[ $fail -ne 0 ]]; then echo "crosscheck: FAILED"; exit 1; fi
if [[ $rust_fail -ne 0 ]]; then echo "crosscheck: independent implementations agree, ticklane DIFFERS"; exit 1; fi
echo "crosscheck: OK"
