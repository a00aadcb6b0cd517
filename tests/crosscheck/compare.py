#!/usr/bin/env python3
"""Compare two cross-check outputs and report where they differ.

    python compare.py EXPECTED CANDIDATE [--max N]

*.csv  : BBO CSVs (bbo.py format). Line by line; prints the first N
         differing lines with their 1-based line numbers and both timestamps.
*.json : decode JSONs (itch_decode.py format) or final-book JSONs.  Decode
         files are compared on `messages`, `by_type` and each sample message
         field by field; anything else is compared as a whole.

Exit 0 when identical, 1 when they differ, 2 on bad input.  Standard library
only, so it runs without the venv (e.g. from a Rust test via `python3`).
"""

from __future__ import annotations

import argparse
import json
import sys


def cmp_csv(a_path: str, b_path: str, limit: int) -> int:
    with open(a_path) as f:
        a = f.read().splitlines()
    with open(b_path) as f:
        b = f.read().splitlines()
    diffs = 0
    for i in range(max(len(a), len(b))):
        la = a[i] if i < len(a) else "<missing>"
        lb = b[i] if i < len(b) else "<missing>"
        if la != lb:
            diffs += 1
            if diffs <= limit:
                print(f"line {i + 1}:\n  expected  {la}\n  candidate {lb}")
    print(f"{a_path}: {len(a)} lines; {b_path}: {len(b)} lines; "
          f"{diffs} differing line(s)")
    return 1 if diffs else 0


def cmp_json(a_path: str, b_path: str, limit: int) -> int:
    with open(a_path) as f:
        a = json.load(f)
    with open(b_path) as f:
        b = json.load(f)
    if not (isinstance(a, dict) and "sample" in a and isinstance(b, dict) and "sample" in b):
        same = a == b
        print("identical" if same else "different")
        return 0 if same else 1
    bad = 0
    for key in ("messages", "by_type"):
        if a.get(key) != b.get(key):
            bad += 1
            print(f"{key}: expected {a.get(key)} candidate {b.get(key)}")
    sa, sb = a["sample"], b["sample"]
    if len(sa) != len(sb):
        bad += 1
        print(f"sample length: expected {len(sa)} candidate {len(sb)}")
    shown = 0
    for i, (ma, mb) in enumerate(zip(sa, sb)):
        if ma != mb:
            bad += 1
            if shown < limit:
                shown += 1
                keys = sorted(set(ma) | set(mb))
                d = {k: (ma.get(k), mb.get(k)) for k in keys if ma.get(k) != mb.get(k)}
                print(f"sample[{i}] type {ma.get('type')}/{mb.get('type')} "
                      f"ts {ma.get('timestamp')}: (expected, candidate) {d}")
    print(f"{bad} difference(s)")
    return 1 if bad else 0


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("expected")
    ap.add_argument("candidate")
    ap.add_argument("--max", type=int, default=10, help="differences to print")
    args = ap.parse_args()
    try:
        if args.expected.endswith(".csv"):
            return cmp_csv(args.expected, args.candidate, args.max)
        return cmp_json(args.expected, args.candidate, args.max)
    except (OSError, ValueError) as e:
        print(f"compare.py: {e}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
