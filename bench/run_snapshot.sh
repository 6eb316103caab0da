#!/usr/bin/env bash
# Snapshots against CSV and against DuckDB's load, end to end, side by side in one run:
#
#   bench/run_snapshot.sh [--people N] [--threads T] [--runs R] [--as-of TS] [--no-duckdb]
#
# Builds b2bseg (Release, build dir `build` or $BUILD_DIR), generates bench/data/<N> (seed 42)
# when missing, writes bench/data/<N>.b2bs with `b2bseg snapshot` (timed), then times R runs
# of each, alternating: `b2bseg eval` of the bench suite from the snapshot (a whole process:
# open, evaluate, write every segment's members) and from the CSV folder, and DuckDB's CSV load
# of the same files (bench/duckdb/race.mjs --load-only; needs node >= 20 and npm, skipped with
# --no-duckdb). The member files of the two b2bseg runs must be identical (exit 1 otherwise).
# Prints medians and ratios. Defaults: 1,000,000 people, 2 threads, 3 runs.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build=${BUILD_DIR:-$root/build}
n=1000000
threads=2
runs=3
as_of=2026-11-22T00:00:00Z
duckdb=1
suite=$root/bench/suite/b2bseg_suite.seg

usage() { sed -n '2,13p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; exit "${1:-0}"; }
while [[ $# -gt 0 ]]; do
  case $1 in
    --people) n=$2; shift 2 ;;
    --threads) threads=$2; shift 2 ;;
    --runs) runs=$2; shift 2 ;;
    --as-of) as_of=$2; shift 2 ;;
    --no-duckdb) duckdb=0; shift ;;
    -h|--help) usage 0 ;;
    *) echo "run_snapshot.sh: unknown option $1" >&2; usage 2 ;;
  esac
done

if [[ ! -f $build/CMakeCache.txt ]]; then
  cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=Release -DB2BSEG_BUILD_TESTS=OFF >/dev/null
fi
cmake --build "$build" -j2 --target b2bseg_cli >/dev/null
b2bseg=$build/b2bseg
data=$root/bench/data/$n
snap=$root/bench/data/$n.b2bs
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
if [[ ! -f $data/schema.json ]]; then
  echo "generating $n people (seed 42) into $data ..."
  "$b2bseg" generate --people "$n" --seed 42 --out "$data"
fi
echo "machine: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//'), $(nproc) cores; $(git -C "$root" rev-parse --short HEAD 2>/dev/null || echo '?')"
"$b2bseg" snapshot --data "$data" --out "$snap" --threads "$threads"

if [[ $duckdb == 1 ]]; then
  command -v node >/dev/null && command -v npm >/dev/null ||
    { echo "run_snapshot.sh: needs node (>= 20) and npm (or --no-duckdb)" >&2; exit 1; }
  (cd "$root/bench/duckdb" && { [[ -d node_modules/@duckdb/node-api ]] ||
     npm ci --no-audit --no-fund --loglevel=error || npm install --no-audit --no-fund --loglevel=error; })
fi

ms() { echo $(( ($(date +%s%N) - $1) / 1000000 )); }
snap_ms=() csv_ms=() duck_ms=()
for ((r = 1; r <= runs; r++)); do
  rm -rf "$work/snap" "$work/csv"
  t=$(date +%s%N)
  "$b2bseg" eval --quiet --data "$snap" --segments "$suite" --out "$work/snap" --as-of "$as_of" --threads "$threads"
  snap_ms+=("$(ms "$t")")
  t=$(date +%s%N)
  "$b2bseg" eval --quiet --data "$data" --segments "$suite" --out "$work/csv" --as-of "$as_of" --threads "$threads"
  csv_ms+=("$(ms "$t")")
  if ! diff -rq -x summary.json "$work/snap" "$work/csv" >/dev/null; then
    echo "run_snapshot.sh: members from the snapshot differ from members from CSV:" >&2
    diff -rq -x summary.json "$work/snap" "$work/csv" >&2 || true
    exit 1
  fi
  if [[ $duckdb == 1 ]]; then
    (cd "$root/bench/duckdb" && node race.mjs --load-only --data "$data" --threads "$threads" \
       --json "$work/duck.json" >/dev/null)
    duck_ms+=("$(node -p "Math.round(require('$work/duck.json').load_ms)")")
  fi
  echo "run $r: snapshot eval ${snap_ms[-1]} ms, CSV eval ${csv_ms[-1]} ms${duck_ms:+, DuckDB load ${duck_ms[-1]} ms}"
done
median() { printf '%s\n' "$@" | sort -n | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }
s=$(median "${snap_ms[@]}") c=$(median "${csv_ms[@]}")
echo
echo "=== $n people, $threads thread(s), medians of $runs runs; members identical ==="
echo "snapshot: $(du -h "$snap" | cut -f1), open + suite + write members: $s ms"
echo "CSV:      load + suite + write members: $c ms ($(awk -v a="$c" -v b="$s" 'BEGIN { printf "%.1f", a / b }')x the snapshot)"
if [[ $duckdb == 1 ]]; then
  d=$(median "${duck_ms[@]}")
  echo "DuckDB:   CSV load alone: $d ms ($(awk -v a="$d" -v b="$s" 'BEGIN { printf "%.1f", a / b }')x the snapshot's whole run)"
fi
