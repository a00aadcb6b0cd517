#!/usr/bin/env bash
# One pass of every speed and latency measurement that needs a quiet many-core machine, as one
# prepared script for a short lease of the 16-core device machine (see BENCHMARKS.md, "16-core
# machine"). Nothing here builds: the machine has no Rust toolchain, so the binaries are built
# here and carried in `devkit/` (git-ignored):
#
#   benches/device/kit.sh            # builds and strips them into devkit/
#   # then, on the device machine, from the repository root:
#   bash benches/device/run.sh [OUT_DIR]            # every section
#   SECTIONS="fuzz jitter lat ring" bash benches/device/run.sh   # some of them
#
# Sections: quiet (pick the two quietest cores first; see below), jitter, lat (pinned tick-to-decision, issue 4), ring (one-way latency and
# throughput), decode, book (issues 2, 3; with devkit/ticklane-old, that build's book stage
# too, alternately), run (issue 5), live (issue 7), w2d (wire to decision),
# fuzz (the config loader's fuzzer, with corpus snapshots every SNAP_SECONDS for the coverage
# curve of feeds/fuzz/coverage.sh). All logs end up in OUT_DIR/device-logs.tgz.
# FEED_CORE and LANE_CORE name the two pinned cores instead of the pick below.
#
# For an A/B of the pinned latency run between two binaries (old and new alternately), see
# benches/device/lat-ab.sh.
#
# It picks two cores on different physical cores (no shared hyperthread) for the pinned runs,
# keeps every measured thread on cores 0-7, and runs the `run_config` fuzzer in fork mode on
# cores 8-15 in the background for the whole pass (its coverage curve is the plateau check of
# RELIABILITY.md). Full logs go to OUT_DIR; a short summary is printed last.
set -uo pipefail
cd "$(dirname "$0")/../.."
K=${DEVKIT:-devkit}
DEST=${1:-${OUT:-/tmp}}
O=/tmp/device-logs
rm -rf "$O"; mkdir -p "$O"
SECTIONS=${SECTIONS:-"jitter lat ring decode book run live w2d fuzz"}
want() { [[ " $SECTIONS " == *" $1 "* ]]; }
SNAP_SECONDS=${SNAP_SECONDS:-60}
T=$K/ticklane
FUZZ_SECONDS=${FUZZ_SECONDS:-300}
step() { echo; echo "=== $* ($(date +%T))"; }

# ---- machine -----------------------------------------------------------------------------
step machine
{ uname -a; nproc; lscpu; lscpu -e; cat /proc/cmdline; cat /sys/devices/system/clocksource/clocksource0/current_clocksource; uptime; } >"$O/machine.txt" 2>&1
grep -E "Model name|^CPU\(s\)|Thread|Socket|NUMA node\(s\)|L2|L3" "$O/machine.txt"
siblings() { cat "/sys/devices/system/cpu/cpu$1/topology/thread_siblings_list" 2>/dev/null || echo "$1"; }
FEED=${FEED_CORE:-2}
LANE=${LANE_CORE:-3}
[ -n "${LANE_CORE:-}" ] || for c in 3 4 5 6 7; do
  if ! grep -qE "(^|[,-])$c([,-]|$)" <<<"$(siblings $FEED)"; then LANE=$c; break; fi
done
# With QUIET=1 (or the `quiet` section), the feed and lane cores are instead the two quietest
# of cores 0-7 on different physical cores: `ticklane jitter` runs on all of them at once for
# QUIET_SECONDS and cores are ranked by their gaps over 10 µs, then over 1 µs. (On the lent
# Firecracker guest it did not help: which vCPU the host disturbs moves from one second to the
# next; BENCHMARKS.md, stop 25. Kept for machines where some cores are steadily quieter.)
if want quiet || [ "${QUIET:-0}" = 1 ]; then
  step "quiet cores: jitter ${QUIET_SECONDS:-3} s on cores 0-7 at once"
  $T jitter --seconds "${QUIET_SECONDS:-3}" $(for c in 0 1 2 3 4 5 6 7; do echo --cores $c; done) 2>&1 | tee "$O/jitter-scan.txt"
  read -r FEED LANE < <(python3 - "$O/jitter-scan.txt" <<'PY'
import sys
rows = []
for line in open(sys.argv[1]):
    f = line.split()
    if len(f) == 8 and f[0].isdigit() and f[1] == "true":
        rows.append((int(f[3]), int(f[2]), int(f[7]), int(f[0])))
rows.sort()
def sib(c):
    try:
        return open(f"/sys/devices/system/cpu/cpu{c}/topology/thread_siblings_list").read().strip()
    except OSError:
        return str(c)
lane = rows[0][3]
feed = next(r[3] for r in rows[1:] if sib(r[3]) != sib(lane))
print(feed, lane)
PY
)
fi
OTHER=5; for c in 5 6 4 7 1 0; do [ "$c" != "$FEED" ] && [ "$c" != "$LANE" ] && { OTHER=$c; break; }; done
echo "feed core $FEED (siblings $(siblings $FEED)), lane core $LANE (siblings $(siblings $LANE)), sender core $OTHER"

# ---- fuzzer in the background on cores 8-15 ---------------------------------------------
FUZZ_CORES=${FUZZ_CORES:-8-15}
FUZZ_JOBS=${FUZZ_JOBS:-8}
if want fuzz; then
step "fuzz run_config, fork=$FUZZ_JOBS, ${FUZZ_SECONDS}s, cores $FUZZ_CORES (background)"
rm -rf /tmp/corpus_rc /tmp/snaps && cp -r feeds/fuzz/corpus/run_config /tmp/corpus_rc
mkdir -p /tmp/fuzz_art /tmp/snaps
(cd /tmp && taskset -c "$FUZZ_CORES" "$OLDPWD/$K/fuzz-run_config" -fork="$FUZZ_JOBS" -max_total_time="$FUZZ_SECONDS" \
  -timeout=10 -rss_limit_mb=4096 -print_final_stats=1 -artifact_prefix=/tmp/fuzz_art/ \
  /tmp/corpus_rc >"$O/fuzz.log" 2>&1) &
FUZZ_PID=$!
( t=0; while kill -0 $FUZZ_PID 2>/dev/null; do sleep "$SNAP_SECONDS"; t=$((t + SNAP_SECONDS));
    cp -r /tmp/corpus_rc "/tmp/snaps/t$(printf %04d $t)" 2>/dev/null; done ) &
fi

if want jitter; then
# ---- jitter ------------------------------------------------------------------------------
step "jitter, 3 s on cores $FEED $LANE"
$T jitter --seconds 3 --cores $FEED --cores $LANE 2>&1 | tee "$O/jitter.txt"

fi
if want lat; then
# ---- issue 4: tick-to-decision through the pipeline, pinned -----------------------------
sed -e "s/^lane_cores = .*/lane_cores = [$LANE]/" -e "s/^feed_core = .*/feed_core = $FEED/" \
  config/latency.toml >/tmp/lat.toml
n=0
for pace in ${LAT_PACES:-rate:500000 rate:500000 rate:100000}; do
  step "run latency.toml pinned, $pace, 1M messages"
  n=$((n + 1)); f="$O/lat-$n-${pace#rate:}.json"
  $T run /tmp/lat.toml --messages 1000000 --pace $pace --json >"$f" 2>"$O/lat.err"
  python3 benches/device/hops.py "$f"
  # LAT_FIXED_TOO=1: each run is followed by the same on the fixed cores 2 and 3, to see what
  # the quiet pick (QUIET=1) is worth on this guest.
  if [ "${LAT_FIXED_TOO:-0}" = 1 ]; then
    step "run latency.toml pinned to fixed cores 2 -> 3, $pace, 1M messages"
    sed -e "s/^lane_cores = .*/lane_cores = [3]/" -e "s/^feed_core = .*/feed_core = 2/" config/latency.toml >/tmp/lat-fixed.toml
    f="$O/lat-$n-fixed-${pace#rate:}.json"
    $T run /tmp/lat-fixed.toml --messages 1000000 --pace $pace --json >"$f" 2>"$O/lat.err"
    python3 benches/device/hops.py "$f"
  fi
done
cp /tmp/lat.toml "$O/lat.toml"
# The same with the index ring instead of the stamped one (the lane ring A/B, issue 4).
sed -e 's/^ring = "stamped"/ring = "index"/' /tmp/lat.toml >/tmp/lat-index.toml
for pace in ${LAT_PACES_AB:-rate:500000 rate:500000}; do
  step "run latency.toml pinned, index ring, $pace, 1M messages"
  n=$((n + 1)); f="$O/lat-$n-index-${pace#rate:}.json"
  $T run /tmp/lat-index.toml --messages 1000000 --pace $pace --json >"$f" 2>"$O/lat.err"
  python3 benches/device/hops.py "$f"
done

fi
if want ring; then
# ---- issue 4: ring one-way latency and throughput -------------------------------------
for i in $(seq "${RING_REPEAT:-1}"); do
  step "ring-latency pinned $FEED -> $LANE ($i)"
  $K/ring-latency --rounds 50 --warmup 5000 --messages 1000000 --producer-core $FEED --consumer-core $LANE 2>&1 | tee "$O/ring-latency-$i.txt" | tail -12
done
step "ring throughput, interleaved, 31 rounds (cores 0-7)"
TICKLANE_RING_ROUNDS=31 taskset -c 0-7 $K/ring-bench --bench 2>&1 | tee "$O/ring-tput.txt" | tail -25

fi
if want decode; then
# ---- issues 2 and 3: decode and book, one core -------------------------------------------
step "ticklane bench 5M messages, core $FEED"
taskset -c $FEED $T bench --messages 5000000 2>&1 | tee "$O/bench.txt" | tail -15
# ---- issue 5: one lane's ceiling (the `run` default's session, its strategies, no ring) -----
step "ticklane bench lane stage, run session (seed 7, 2M), core $FEED"
taskset -c $FEED $T bench --seed 7 --messages 2000000 2>&1 | tee "$O/bench-lane.txt" | tail -6
step "criterion decode (with itchy, itch5), core $FEED"
taskset -c $FEED $K/decode-bench --bench --warm-up-time 1 --measurement-time 3 2>&1 | tee "$O/decode.txt" | grep -E "^[a-z0-9]+/|thrpt" 
fi
if want book; then
# ---- issue 3: the book stage against itch-book, and against an older build -------------------
# As benches/peer_book.sh: PEER_ROUNDS rounds on one generated file, each running ticklane's
# book stage (`bench --file`, best of 3 passes), devkit/ticklane-old's when it is there, and
# itch-book (best of 3) back to back, the ratios taken within each round.
rounds=${PEER_ROUNDS:-5}
step "peer book: ticklane, ticklane-old if there, and itch-book, $rounds rounds, core $FEED"
[ -f /tmp/s.itch ] || $T gen --seed 1 --messages 5000000 --instruments 64 -o /tmp/s.itch 2>/dev/null
stage() { taskset -c $FEED "$1" bench --file /tmp/s.itch --passes 3 2>&1 | awk '/^decode\+normalize\+book /{print $2}'; }
have_peer=0
python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --target /tmp/site $K/whl/*.whl >/dev/null 2>&1 && have_peer=1
[ $have_peer = 1 ] || echo "itch-book did not install"
: >/tmp/peer-rows
for r in $(seq "$rounds"); do
  o=-; [ -x "$K/ticklane-old" ] && o=$(stage "$K/ticklane-old")
  t=$(stage "$T")
  p=-; [ $have_peer = 1 ] && p=$(PYTHONPATH=/tmp/site taskset -c $FEED python3 benches/peer_book.py /tmp/s.itch 3 2>&1 | awk '/M messages/{print $2}')
  echo "round $r  ticklane $t  older $o  itch-book $p"
  echo "$t $o $p" >>/tmp/peer-rows
done 2>&1 | tee "$O/peer.txt"
python3 - /tmp/peer-rows <<'PY' 2>&1 | tee -a "$O/peer.txt"
import statistics, sys
rows = [l.split() for l in open(sys.argv[1])]
def col(i): return [float(r[i]) for r in rows if r[i] != "-"]
def ratio(i, j): return [float(r[i]) / float(r[j]) for r in rows if "-" not in (r[i], r[j])]
for name, v in [("ticklane M msg/s", col(0)), ("older M msg/s", col(1)), ("itch-book M msg/s", col(2)),
                ("ticklane / itch-book, per round", ratio(0, 2)), ("older / itch-book, per round", ratio(1, 2)),
                ("ticklane / older, per round", ratio(0, 1))]:
    if v:
        print(f"{name}: median {statistics.median(v):.2f}, range {min(v):.2f}-{max(v):.2f} ({len(v)} rounds)")
PY

fi
if want run; then
# ---- issue 5: end to end at max, one lane and two ------------------------------------------
step "ticklane run at max (default config), 3 runs each"
for v in "" "--lanes 2"; do
  for i in 1 2 3; do
    taskset -c 0-7 $T run --no-latency --json $v 2>/dev/null | python3 -c "import json,sys; j=json.load(sys.stdin); print('run $v', j['events'], 'events', round(j['events_per_sec']/1e6, 2), 'M events/s', j['digest'][:12])" 2>&1 | tee -a "$O/run.txt"
  done
done
python3 - <<'EOF' >/tmp/nostrat.toml
import re
s = open("config/run.toml").read()
i = s.find("[[strategy]]")
print(s[:i] if i >= 0 else s)
EOF
for i in 1 2 3; do
  taskset -c 0-7 $T run /tmp/nostrat.toml --no-latency --json 2>/dev/null | python3 -c "import json,sys; j=json.load(sys.stdin); print('books only', j['events'], 'events', round(j['events_per_sec']/1e6, 2), 'M events/s')" 2>&1 | tee -a "$O/run.txt"
done
$T run --no-latency --json >"$O/run-default.json" 2>/dev/null

fi
if want live; then
# ---- issue 7: live bench (UDP handler, wire-to-handler, QUIC relay) ------------------------
step "live bench (cores 0-7)"
taskset -c 0-7 $K/live-bench --bench 2>&1 | tee "$O/live.txt" | tail -40
cp target/live-bench.json "$O/live-bench.json" 2>/dev/null

fi
if want w2d; then
# ---- issue 7: wire to decision through the engine ---------------------------------------
for mode in false true; do
  step "wire to decision: serve (core $OTHER) -> paper (feed $FEED, lane $LANE), busy_poll=$mode"
  sed -e "s/^busy_poll = .*/busy_poll = $mode/" -e "s/^idle = .*/idle = \"spin\"/" -e "s/^batch = .*/batch = 1/" \
      -e "s/^lanes = 1/lanes = 1\nlane_cores = [$LANE]\nfeed_core = $FEED/" config/live.toml >/tmp/w2d.toml
  $T paper --config /tmp/w2d.toml --json >"$O/w2d-$mode.json" 2>"$O/w2d-$mode.err" &
  P=$!
  sleep 1
  taskset -c $OTHER $T serve generated:7:300000 --speed 3000x >/dev/null 2>&1
  wait $P
  python3 benches/device/hops.py "$O/w2d-$mode.json"
done

fi
if want fuzz; then
# ---- fuzz summary ----------------------------------------------------------------------
step "waiting for the fuzzer"
wait $FUZZ_PID
sleep 1
grep -E "^#[0-9]+: cov" "$O/fuzz.log" | awk 'NR % 10 == 1' | head -60
grep -E "^#[0-9]+: cov" "$O/fuzz.log" | tail -3
grep -E "ERROR|crash-|stat::" "$O/fuzz.log" | head -20
ls /tmp/fuzz_art | head
cp /tmp/fuzz_art/* "$O/" 2>/dev/null
cp -r /tmp/corpus_rc /tmp/snaps/final
echo "corpus: $(ls /tmp/corpus_rc | wc -l) files"
fi
step done
tar czf "$DEST/device-logs.tgz" -C /tmp device-logs $( [ -d /tmp/snaps ] && echo -C / tmp/snaps )
ls -la "$DEST/device-logs.tgz"
