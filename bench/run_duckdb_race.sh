#!/usr/bin/env bash
# The b2bseg suite against DuckDB, with one command:
#
#   bench/run_duckdb_race.sh [--people N] [--threads T] [--runs R] [--as-of TS]
#
# Defaults: 1,000,000 people, 2 threads, 5 runs, as of 2026-11-22T00:00:00Z. Builds b2bseg and
# tool_suite (Release, build dir `build` or $BUILD_DIR), generates bench/data/<N> (seed 42) when
# missing, runs tool_suite with T threads (member keys and medians into
# bench/data/results/suite-<N>-t<T>.json), installs the pinned @duckdb/node-api into
# bench/duckdb/node_modules (npm ci), and runs bench/duckdb/race.mjs: DuckDB loads the same CSVs,
# runs the SQL of every suite segment with T threads, and the two engines' member sets must be
# identical for every segment (exit 1 otherwise, naming the first differing keys). Then DuckDB
# exports every person and account segment's members with the fields of bench_activate (COPY ...
# TO csv), timed, to compare with build/bench/bench_activate.
# Needs Node.js >= 20 and npm.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
n=1000000
threads=2
runs=5
as_of=2026-11-22T00:00:00Z

usage() { sed -n '2,14p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; exit "${1:-0}"; }
while [[ $# -gt 0 ]]; do
  case $1 in
    --people) n=$2; shift 2 ;;
    --threads) threads=$2; shift 2 ;;
    --runs) runs=$2; shift 2 ;;
    --as-of) as_of=$2; shift 2 ;;
    -h|--help) usage 0 ;;
    *) echo "run_duckdb_race.sh: unknown option $1" >&2; usage 2 ;;
  esac
done

command -v node >/dev/null && command -v npm >/dev/null ||
  { echo "run_duckdb_race.sh: needs node (>= 20) and npm" >&2; exit 1; }
major=$(node -p 'process.versions.node.split(".")[0]')
[[ $major -ge 20 ]] || { echo "run_duckdb_race.sh: node $major found, >= 20 needed" >&2; exit 1; }

# b2bseg side: build, data, and the suite at T threads (also prints b2bseg's own table).
"$root/bench/run_suite.sh" --people "$n" --threads "$threads" --runs "$runs" --as-of "$as_of"
json=$root/bench/data/results/suite-$n-t$threads.json

# DuckDB side.
cd "$root/bench/duckdb"
if [[ ! -d node_modules/@duckdb/node-api ]] ||
   ! node -e 'process.exit(require("./node_modules/@duckdb/node-api/package.json").version === require("./package.json").dependencies["@duckdb/node-api"] ? 0 : 1)'; then
  echo "installing @duckdb/node-api (npm ci) ..."
  # npm ci wants every platform's optional binary package in the lock file; a registry mirror
  # that serves only some platforms leaves them out, and then npm install (same pinned version,
  # same lock file) is the fallback.
  log=$(mktemp)
  if ! npm ci --no-audit --no-fund --loglevel=error >"$log" 2>&1; then
    echo "npm ci failed ($(grep -m1 'Missing:' "$log" || true)); npm install with the same lock file ..."
    npm install --no-audit --no-fund --loglevel=error
  fi
  rm -f "$log"
fi
echo
echo "=== DuckDB race: $n people, $threads thread(s) ==="
node race.mjs --data "$root/bench/data/$n" --b2bseg "$json" --threads "$threads" --runs "$runs" \
  --as-of "$as_of" --json "$root/bench/data/results/race-$n-t$threads.json" \
  --activate "$root/bench/data/results/duckdb-export-$n" |
  tee "$root/bench/data/results/race-$n-t$threads.txt"
exit "${PIPESTATUS[0]}"
