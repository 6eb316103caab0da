#!/usr/bin/env bash
# Builds b2bseg and runs its tests. Installs missing Debian packages first.
#   scripts/test.sh                       # Release build in build/, default test set
#   scripts/test.sh --sanitize address\;undefined   # ASan+UBSan build in build-asan/
#   scripts/test.sh --sanitize thread     # TSan build in build-tsan/
#   scripts/test.sh --label large         # also the long, large-scale tests
#   scripts/test.sh --mpi                 # the command built for mpirun (build-mpi/, Open MPI
#                                         # installed), and the tests that run it: -L mpi
# Extra arguments after -- go to ctest (e.g. -- -R Store).
# B2BSEG_BUILD_TARGETS="b2bseg_cli test_store ..." builds only those targets (CI's TSan step: the
# binaries its -R filter selects; tests of binaries not built are named *_NOT_BUILT).
set -euo pipefail
cd "$(dirname "$0")/.."
sanitize=""; labels_exclude="large"; ctest_args=(); mpi=0
while (($#)); do
  case "$1" in
    --sanitize) sanitize="$2"; shift 2 ;;
    --label) labels_exclude=""; shift 2 ;;
    --mpi) mpi=1; shift ;;
    --) shift; ctest_args=("$@"); break ;;
    *) echo "unknown argument: $1" >&2; exit 2 ;;
  esac
done
if ((mpi)); then
  B2BSEG_WITH_MPI=1 scripts/setup-deps.sh
  cmake -S . -B build-mpi -DCMAKE_BUILD_TYPE=Release -DB2BSEG_MPI=ON -DB2BSEG_BUILD_BENCH=OFF \
    -DB2BSEG_WERROR="$([[ "${CI:-}" == true ]] && echo ON || echo OFF)" >/dev/null
  cmake --build build-mpi -j2 --target b2bseg_cli mpi_random_cases
  ctest --test-dir build-mpi --output-on-failure -L mpi "${ctest_args[@]}"
  exit
fi
[[ "$sanitize" == thread ]] && export B2BSEG_WITH_TSAN=1
scripts/setup-deps.sh
build=build; type=Release; bench=ON; tbb_dir=()
# CI's default build fails on any warning in the project's own code (B2BSEG_WERROR).
werror=OFF; [[ "${CI:-}" == true && -z "$sanitize" ]] && werror=ON
case "$sanitize" in
  "") ;;
  thread) build=build-tsan; type=RelWithDebInfo; bench=OFF
    # oneTBB itself built with TSan, so that TSan sees its scheduler's hand-overs.
    tbb_dir=(-DTBB_DIR="$PWD/$(scripts/tsan-tbb.sh build-tsan/tbb)") ;;
  *) build=build-asan; type=RelWithDebInfo; bench=OFF ;;
esac
cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=$type -DB2BSEG_SANITIZE="$sanitize" -DB2BSEG_BUILD_BENCH=$bench \
  -DB2BSEG_WERROR=$werror "${tbb_dir[@]}" >/dev/null
if [[ -n "${B2BSEG_BUILD_TARGETS:-}" ]]; then
  # shellcheck disable=SC2086  # a space-separated list of targets
  cmake --build "$build" -j2 --target ${B2BSEG_BUILD_TARGETS}
else
  cmake --build "$build" -j2
fi
args=(--test-dir "$build" -j2 --output-on-failure)
if [[ "$sanitize" == thread ]]; then
  # history_size=7: TSan keeps 4M accesses per thread, so a report shows both stacks.
  export TSAN_OPTIONS="suppressions=$PWD/tests/tsan.supp halt_on_error=1 second_deadlock_stack=1 history_size=7"
fi
[[ -n "$labels_exclude" ]] && args+=(-LE "$labels_exclude")
ctest "${args[@]}" "${ctest_args[@]}"
