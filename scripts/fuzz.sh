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
# Every target runs even when one fails; a failing target's report (the sanitizer's first lines
# and its summary, the input it saved) is printed, and the script then exits 1.
failed=()
log=$(mktemp)
trap 'rm -f "$log"' EXIT
for bin in build-fuzz/fuzz/fuzz_*; do
  name=$(basename "$bin")
  corpus="fuzz/corpus-$name"
  mkdir -p "$corpus"
  seeds=()
  [[ -d "fuzz/seeds/$name" ]] && seeds=("fuzz/seeds/$name")
  echo "== $name for ${secs}s"
  if "$bin" -max_total_time="$secs" -max_len=4096 -timeout=10 -print_final_stats=1 \
    -artifact_prefix="build-fuzz/$name-" "$corpus" "${seeds[@]}" >"$log" 2>&1; then
    tail -4 "$log"
  else
    failed+=("$name")
    echo "!! $name failed; its report:"
    grep -m1 -A40 -E '^==[0-9]+==ERROR|^ERROR:|deadly signal|Test unit written' "$log" || tail -40 "$log"
    grep -E '^SUMMARY|Test unit written' "$log" || true
  fi
done
if ((${#failed[@]})); then
  echo "fuzz: ${failed[*]} failed" >&2
  exit 1
fi
