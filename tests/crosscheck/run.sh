#!/usr/bin/env bash
# Set up the cross-check venv and regenerate (or, with --check, verify) the
# golden files in tests/golden from INDEPENDENT ITCH 5.0 implementations.
#
#   bash tests/crosscheck/run.sh           # install, cross-compare, rewrite goldens
#   bash tests/crosscheck/run.sh --check   # install, cross-compare, diff vs goldens
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

if [[ -f "$ZERO" ]]; then
  echo "== zero-prefix file: every independent reader must reject it (exit 2)"
  for impl in itchfeed itchcpp meatpy; do
    set +e; "$PY" "$HERE/itch_decode.py" "$ZERO" --impl "$impl" >/dev/null 2>&1; rc=$?; set -e
    if [[ $rc -ne 2 ]]; then echo "UNEXPECTED: $impl exit $rc on $ZERO"; fail=1; fi
  done
fi

GOLDENS="aapl_first10k_decode.json aapl_first10k_bbo.csv aapl_first10k_final_book.json
         synthetic_cux.itch50 synthetic_cux_decode.json synthetic_cux_bbo.csv"
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
if [[ $fail -ne 0 ]]; then echo "crosscheck: FAILED"; exit 1; fi
echo "crosscheck: OK"
