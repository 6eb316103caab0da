#!/usr/bin/env bash
# ctest mpi_eval: `mpirun -n 1/2/3 b2bseg eval` writes NAME.csv byte for byte as one process does,
# and summary.json but for its times; `mpirun -n 2/3 b2bseg activate` writes every destination's
# files and state as one process does, in full and then incrementally; bad input stops every
# process with exit 1 and one message; random graphs with random segments (mpi_random_cases, the
# generators of test_dist) give the bytes of one process with 2 and 3 processes.
# Usage: run_mpi_eval.sh B2BSEG WORK_DIR SOURCE_DIR MPI_RANDOM_CASES
set -euo pipefail
exe=$1 work=$2 src=$3 cases_exe=$4
rm -rf "$work" && mkdir -p "$work"
# Tests run as root in CI containers; Open MPI refuses that unless told.
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_rmaps_base_oversubscribe=1
mpi() { timeout 300 mpirun --oversubscribe -n "$@"; }
"$exe" generate --people 3000 --seed 11 --out "$work/data" >/dev/null
sed -i '0,/{/s//{\n  "partition": "account",/' "$work/data/schema.json"
segs=$src/datasets/demo.seg
as_of=2025-06-01T00:00:00Z
"$exe" eval --data "$work/data" --segments "$segs" --as-of $as_of --out "$work/one" --quiet
strip() { grep -v '"load_ms"\|"eval_ms"' "$1"; }
for n in 1 2 3; do
  mpi $n "$exe" eval --data "$work/data" --segments "$segs" --as-of $as_of --out "$work/n$n" --threads 1 --quiet
  for f in "$work"/one/*.csv; do
    cmp "$f" "$work/n$n/$(basename "$f")" || { echo "FAIL: $(basename "$f") differs with $n processes"; exit 1; }
  done
  diff <(strip "$work/one/summary.json") <(strip "$work/n$n/summary.json") ||
    { echo "FAIL: summary.json differs with $n processes"; exit 1; }
  echo "ok: $n processes, $(ls "$work/one"/*.csv | wc -l) segments identical"
done
# Random graphs and random segments through real processes.
"$cases_exe" "$work/random" 6 7000
for c in "$work"/random/case-*; do
  at=$(cat "$c/as_of.txt")
  "$exe" eval --data "$c/data" --segments "$c/segments.seg" --as-of "$at" --out "$c/one" --quiet
  for n in 2 3; do
    mpi $n "$exe" eval --data "$c/data" --segments "$c/segments.seg" --as-of "$at" --out "$c/n$n" \
      --threads 1 --quiet
    for f in "$c"/one/*.csv; do
      cmp "$f" "$c/n$n/$(basename "$f")" ||
        { echo "FAIL: $(basename "$c")/$(basename "$f") differs with $n processes"; exit 1; }
    done
  done
done
echo "ok: $(ls -d "$work"/random/case-* | wc -l) random graphs and segment files, 2 and 3 processes identical"
# Activation: two runs a week apart (the second hands over what changed), byte for byte.
dests=$src/datasets/demo.destinations.json
for at in $as_of 2025-06-08T00:00:00Z; do
  "$exe" activate --data "$work/data" --segments "$segs" --destinations "$dests" --as-of $at \
    --out "$work/act-one" --quiet
  for n in 2 3; do
    mpi $n "$exe" activate --data "$work/data" --segments "$segs" --destinations "$dests" \
      --as-of $at --out "$work/act-n$n" --threads 1 --quiet
    diff -r "$work/act-one" "$work/act-n$n" ||
      { echo "FAIL: activation files differ with $n processes (as of $at)"; exit 1; }
  done
done
echo "ok: activation with 2 and 3 processes, $(find "$work/act-one" -type f | wc -l) files identical"
# Bad input: every process exits 1, process 0 says why, nobody hangs (timeout above).
cp -r "$work/data" "$work/bad"
sed -i '0,/"partition": "account",/s///' "$work/bad/schema.json"
set +e
mpi 2 "$exe" eval --data "$work/bad" --segments "$segs" --as-of $as_of --out "$work/bad-out" 2>"$work/err.txt"
rc=$?
set -e
[[ $rc == 1 ]] || { echo "FAIL: exit $rc without partition"; cat "$work/err.txt"; exit 1; }
grep -q "names no partition entity" "$work/err.txt" || { echo "FAIL: message"; cat "$work/err.txt"; exit 1; }
[[ $(grep -c "names no partition entity" "$work/err.txt") == 1 ]] || { echo "FAIL: said more than once"; exit 1; }
echo "ok: a schema without partition stops every process with exit 1"
# A bad destinations file: usage error (exit 2) from every process, said once, nothing written.
echo '{"destinations": [' > "$work/bad-dests.json"
set +e
mpi 2 "$exe" activate --data "$work/data" --segments "$segs" --destinations "$work/bad-dests.json" \
  --as-of $as_of --out "$work/bad-act" 2>"$work/err.txt"
rc=$?
set -e
[[ $rc == 2 ]] || { echo "FAIL: exit $rc for a bad destinations file"; cat "$work/err.txt"; exit 1; }
[[ $(grep -c "bad-dests.json" "$work/err.txt") == 1 ]] || { echo "FAIL: not said once"; cat "$work/err.txt"; exit 1; }
[[ ! -e "$work/bad-act" ]] || { echo "FAIL: a bad destinations file wrote $work/bad-act"; exit 1; }
echo "ok: a bad destinations file stops every process with exit 2, nothing written"
# A destination that fails (its state folder is a file): the status one process gives, the others
# written as one process writes them.
first=$(grep -o '"name": *"[^"]*"' "$dests" | head -1 | sed 's/.*"\([^"]*\)"$/\1/')
for out in spoiled-one spoiled-n2; do
  cp -r "$work/act-one" "$work/$out"
  rm -rf "$work/$out/$first/.state" && echo "in the way" > "$work/$out/$first/.state"
done
set +e
"$exe" activate --data "$work/data" --segments "$segs" --destinations "$dests" \
  --as-of 2025-06-15T00:00:00Z --out "$work/spoiled-one" --quiet 2>/dev/null
rc1=$?
mpi 2 "$exe" activate --data "$work/data" --segments "$segs" --destinations "$dests" \
  --as-of 2025-06-15T00:00:00Z --out "$work/spoiled-n2" --threads 1 --quiet 2>/dev/null
rc2=$?
set -e
[[ $rc1 != 0 && $rc1 == "$rc2" ]] || { echo "FAIL: a failed destination: exit $rc1 alone, $rc2 over processes"; exit 1; }
diff -r "$work/spoiled-one" "$work/spoiled-n2" || { echo "FAIL: a failed destination: files differ"; exit 1; }
echo "ok: a failed destination gives exit $rc1 over processes too, the other files identical"
