#!/usr/bin/env bash
# Builds the libFuzzer targets with clang and runs each for N seconds (default 60).
#   scripts/fuzz.sh [SECONDS]
set -euo pipefail
cd "$(dirname "$0")/.."
secs="${1:-60}"
B2BSEG_WITH_FUZZ=1 scripts/setup-deps.sh
CXX=clang++ cmake -S . -B build-fuzz -DCMAKE_BUILD_TYPE=RelWithDebInfo -DB2BSEG_BUILD_FUZZ=ON \
  -DB2BSEG_BUILD_TESTS=OFF -DB2BSEG_BUILD_BENCH=OFF -DB2BSEG_BUILD_TOOLS=OFF >/dev/null
cmake --build build-fuzz -j2
for bin in build-fuzz/fuzz/fuzz_*; do
  name=$(basename "$bin")
  corpus="fuzz/corpus-$name"
  mkdir -p "$corpus"
  seeds=()
  [[ -d "fuzz/seeds/$name" ]] && seeds=("fuzz/seeds/$name")
  echo "== $name for ${secs}s"
  "$bin" -max_total_time="$secs" -max_len=4096 -timeout=10 -print_final_stats=1 "$corpus" "${seeds[@]}" 2>&1 | tail -4
done
