#!/usr/bin/env bash
# A/B of the pinned tick-to-decision run (issue 4) between two ticklane binaries on the device
# machine, alternating them so that both see the same stretch of the machine:
#
#   bash benches/device/lat-ab.sh devkit/ticklane-old devkit/ticklane [PAIRS]
#
# Feed on core 2, lane on core 3 (FEED_CORE, LANE_CORE; config/latency.toml with its cores
# rewritten), 1 M messages
# per run: PAIRS pairs at 500,000 events/s with the stamped ring, two with the index ring, one
# at 100,000/s. Prints tick-to-decision and ring-hop percentiles (ns) per run.
set -uo pipefail
cd "$(dirname "$0")/../.."
A=$1 B=$2 PAIRS=${3:-4}
FEED=${FEED_CORE:-2} LANE=${LANE_CORE:-3}
sed -e "s/^lane_cores = .*/lane_cores = [$LANE]/" -e "s/^feed_core = .*/feed_core = $FEED/" config/latency.toml >/tmp/lat.toml
sed -e 's/^ring = "stamped"/ring = "index"/' /tmp/lat.toml >/tmp/lat-index.toml
"$B" jitter --seconds 3 --cores "$FEED" --cores "$LANE"
show() {
  python3 -c "
import json, sys
j = json.load(open('$1'))['latency_ns']
f = lambda k: ' '.join(str(j[k][q]) for q in ('p50', 'p99', 'p99_9', 'max'))
print('$2'.ljust(28), 'tick-to-decision', f('tick-to-decision'), '| ring', f('ring'), '| strategy', f('strategy'))"
}
rm -f /tmp/lat-ab.jsonl
one() { # binary config pace label
  "$1" run "$2" --messages 1000000 --pace "$3" --json >/tmp/lat.json 2>/dev/null && show /tmp/lat.json "$4" &&
    python3 -c "
import json
j = json.load(open('/tmp/lat.json'))['latency_ns']
print(json.dumps({'label': '$4', 'hops': {k: j[k] for k in ('tick-to-decision', 'ring', 'strategy')}}))" >>/tmp/lat-ab.jsonl
}
echo "columns: p50 p99 p99.9 max (ns)"
for i in $(seq "$PAIRS"); do
  one "$A" /tmp/lat.toml rate:500000 "A stamped 500k #$i"
  one "$B" /tmp/lat.toml rate:500000 "B stamped 500k #$i"
done
for i in 1 2; do
  one "$A" /tmp/lat-index.toml rate:500000 "A index 500k #$i"
  one "$B" /tmp/lat-index.toml rate:500000 "B index 500k #$i"
done
one "$A" /tmp/lat.toml rate:100000 "A stamped 100k"
one "$B" /tmp/lat.toml rate:100000 "B stamped 100k"
# Pairs (A then B with the same label) in which B is lower, per hop and percentile: counted
# here so that no summary is counted by hand.
python3 - <<'PY'
import json
try:
    runs = [json.loads(l) for l in open("/tmp/lat-ab.jsonl")]
except OSError:
    runs = []
by = {}
for r in runs:
    who, rest = r["label"].split(" ", 1)
    by.setdefault(rest, {})[who] = r["hops"]
pairs = [v for v in by.values() if "A" in v and "B" in v]
print(f"B lower than A, of {len(pairs)} pairs:")
for hop in ("tick-to-decision", "ring", "strategy"):
    cells = []
    for q in ("p50", "p99", "p99_9", "max"):
        lower = sum(p["B"][hop][q] < p["A"][hop][q] for p in pairs)
        cells.append(f"{q} {lower}")
    print(f"  {hop:17s}", ", ".join(cells))
under = {w: sum(p[w]["tick-to-decision"]["p99_9"] < 20_000 for p in pairs) for w in "AB"}
print(f"tick-to-decision p99.9 under 20 us: A {under['A']}, B {under['B']} of the {len(pairs)} paired runs each")
print("(stamped, index and 100k pairs pooled)")
PY
