#!/usr/bin/env bash
# Builds the binaries that benches/device/run.sh runs on the device machine (which has no Rust
# toolchain) and strips them into devkit/ (git-ignored; carried with the call), with the
# itch-book wheel for the peer-book comparison (Python 3.12 there).
set -euo pipefail
cd "$(dirname "$0")/../.."
grep -qs '^/devkit/' .git/info/exclude || { mkdir -p .git/info; echo /devkit/ >>.git/info/exclude; }
mkdir -p devkit/whl
cargo build --release --bins
exe() { cargo bench -p ticklane-benches --no-run --message-format=json 2>/dev/null |
  python3 -c "import json,sys
for l in sys.stdin:
    m = json.loads(l)
    if m.get('reason') == 'compiler-artifact' and m['target']['name'] == '$1' and m.get('executable'):
        print(m['executable'])"; }
cp target/release/ticklane target/release/ring-latency devkit/
for b in ring live decode; do cp "$(exe $b)" "devkit/$b-bench"; done
strip devkit/ticklane devkit/ring-latency devkit/*-bench
# The fuzzer (the `fuzz` section) needs nightly and cargo-fuzz; NO_FUZZ=1 leaves it out.
if [ "${NO_FUZZ:-0}" != 1 ]; then
  (cd feeds && cargo +nightly fuzz build run_config -O)
  cp feeds/fuzz/target/x86_64-unknown-linux-gnu/release/run_config devkit/fuzz-run_config
  strip devkit/fuzz-run_config
else
  rm -f devkit/fuzz-run_config
fi
python3 -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
  --platform manylinux_2_28_x86_64 --platform manylinux_2_27_x86_64 -d devkit/whl itch-book==0.2.1
python3 -m pip download -q --no-deps --only-binary=:all: -d devkit/whl tzdata
du -sh devkit
