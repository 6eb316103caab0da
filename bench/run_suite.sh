#!/usr/bin/env bash
# Runs the b2bseg benchmark suite (bench/suite/b2bseg_suite.seg) with bench/tool_suite.
#
#   bench/run_suite.sh [--people N]... [--big] [--threads "1 2"] [--runs R] [--as-of TS]
#
# Builds b2bseg and tool_suite (Release, build dir `build`, or $BUILD_DIR), generates the
# datasets it needs with `b2bseg generate --seed 42` into bench/data/<N> when missing, then runs
# tool_suite at each thread count and prints a scaling table. Defaults: 1,000,000 people;
# --big adds 10,000,000 people (about 12 GiB of CSV and a long load); threads "1 2"; 5 runs;
# as of 2026-11-22T00:00:00Z. Full outputs go to bench/data/results/suite-<N>-t<T>.{txt,json}
# (the json holds every segment's member keys, for bench/duckdb/race.mjs).
# Environment: BUILD_DIR (default build), JOBS (parallel compile jobs, default 2).
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build=${BUILD_DIR:-$root/build}
jobs=${JOBS:-2}
people=()
threads="1 2"
runs=5
as_of=2026-11-22T00:00:00Z
suite=$root/bench/suite/b2bseg_suite.seg

usage() { sed -n '2,14p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; exit "${1:-0}"; }
while [[ $# -gt 0 ]]; do
  case $1 in
    --people) people+=("$2"); shift 2 ;;
    --big) people+=(1000000 10000000); shift ;;
    --threads) threads=$2; shift 2 ;;
    --runs) runs=$2; shift 2 ;;
    --as-of) as_of=$2; shift 2 ;;
    -h|--help) usage 0 ;;
    *) echo "run_suite.sh: unknown option $1" >&2; usage 2 ;;
  esac
done
[[ ${#people[@]} -gt 0 ]] || people=(1000000)
# Each size once, in the order given.
mapfile -t people < <(printf '%s\n' "${people[@]}" | awk '!seen[$0]++')

# --- build ---------------------------------------------------------------------------------------
if [[ ! -f $build/CMakeCache.txt ]]; then
  cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=Release -DB2BSEG_BUILD_TESTS=OFF >/dev/null
fi
if ! grep -q '^CMAKE_BUILD_TYPE:STRING=Release$' "$build/CMakeCache.txt"; then
  echo "run_suite.sh: warning: $build is not a Release build; timings will not be representative" >&2
fi
cmake --build "$build" -j"$jobs" --target b2bseg_cli tool_suite >/dev/null
b2bseg=$build/b2bseg
tool=$build/bench/tool_suite
[[ -x $b2bseg && -x $tool ]] || { echo "run_suite.sh: build did not produce $b2bseg and $tool" >&2; exit 1; }

# --- data ----------------------------------------------------------------------------------------
mkdir -p "$root/bench/data/results"
for n in "${people[@]}"; do
  dir=$root/bench/data/$n
  if [[ ! -f $dir/schema.json ]]; then  # generate writes schema.json last, after every CSV
    echo "generating $n people (seed 42) into $dir ..."
    "$b2bseg" generate --people "$n" --seed 42 --out "$dir"
  fi
done

# --- runs ----------------------------------------------------------------------------------------
cpu=$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//')
echo "machine: $cpu, $(nproc) cores; $(git -C "$root" rev-parse --short HEAD 2>/dev/null || echo '?')"
for n in "${people[@]}"; do
  for t in $threads; do
    out=$root/bench/data/results/suite-$n-t$t
    echo
    echo "=== $n people, $t thread(s) ==="
    "$tool" --data "$root/bench/data/$n" --segments "$suite" --as-of "$as_of" \
            --threads "$t" --runs "$runs" --json "$out.json" | tee "$out.txt"
  done
  # Scaling table: per-segment medians at each thread count, and the speed-up over the first.
  [[ $(wc -w <<<"$threads") -ge 2 ]] || continue
  echo
  echo "=== scaling, $n people (median ms; speed-up over $(echo $threads | cut -d' ' -f1) thread) ==="
  files=()
  for t in $threads; do files+=("$root/bench/data/results/suite-$n-t$t.txt"); done
  awk -v threads="$threads" '
    BEGIN { nt = split(threads, T, " ") }
    FNR == 1 { f++ }
    $1 ~ /^q[0-9]+_/ { if (f == 1) order[++ns] = $1; ms[$1, f] = $4 }
    /^whole file, evaluated together/ { ms["(whole file together)", f] = $(NF-1) }
    /^sum of the separate medians/ { ms["(sum of separate)", f] = $(NF-1) }
    /^profile evaluations/ { ev[f] = $(NF-1) }
    END {
      order[++ns] = "(whole file together)"; order[++ns] = "(sum of separate)"
      printf "%-36s", "segment"
      for (i = 1; i <= nt; i++) printf " %10s", T[i] "T ms"
      for (i = 2; i <= nt; i++) printf " %9s", "x" T[i] "T"
      printf "\n"
      for (s = 1; s <= ns; s++) {
        k = order[s]; printf "%-36s", k
        for (i = 1; i <= nt; i++) printf " %10.3f", ms[k, i]
        for (i = 2; i <= nt; i++) printf(" %9.2f", (ms[k, i] > 0) ? ms[k, 1] / ms[k, i] : 0)
        printf "\n"
      }
      printf "%-36s", "profile evaluations / s"
      for (i = 1; i <= nt; i++) printf " %10s", ev[i]
      printf "\n"
    }' "${files[@]}"
done
