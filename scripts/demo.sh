#!/usr/bin/env bash
# Builds the b2bseg command, evaluates datasets/demo.seg on the bundled demo dataset (a table of
# segments, members and times), then activates datasets/demo.destinations.json: one line per
# destination (rows, skipped, files). Installs missing Debian packages first.
#   scripts/demo.sh                  # the bundled 10k-people dataset in datasets/demo
#   scripts/demo.sh --people 1000000 # generate a larger dataset first (into out/demo-N)
set -euo pipefail
cd "$(dirname "$0")/.."
people=""
while (($#)); do
  case "$1" in
    --people) people="$2"; shift 2 ;;
    *) echo "unknown argument: $1 (try --people N)" >&2; exit 2 ;;
  esac
done
scripts/setup-deps.sh
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build build -j2 --target b2bseg_cli
data=datasets/demo
if [[ -n "$people" ]]; then
  data="out/demo-$people"
  [[ -f "$data/schema.json" ]] || build/b2bseg generate --people "$people" --seed 42 --out "$data"
fi
echo
build/b2bseg eval --data "$data" --segments datasets/demo.seg --out out/demo-results --as-of 2026-11-22T00:00:00Z
echo
# Activation: LinkedIn, Marketo and cloud-storage files with manifests under out/demo-activation/
# (a fresh folder, so that incremental destinations show a first, full hand-over).
rm -rf out/demo-activation
build/b2bseg activate --data "$data" --segments datasets/demo.seg \
  --destinations datasets/demo.destinations.json --out out/demo-activation \
  --as-of 2026-11-22T00:00:00Z
