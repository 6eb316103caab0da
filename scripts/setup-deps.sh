#!/usr/bin/env bash
# Installs the Debian packages b2bseg needs, only those missing. Idempotent; needs root (or sudo).
set -euo pipefail
pkgs=(build-essential cmake pkg-config libtbb-dev libroaring-dev libxxhash-dev libgtest-dev
      libbenchmark-dev libcli11-dev nlohmann-json3-dev libfmt-dev libgmp-dev
      libssl-dev zlib1g-dev libzstd-dev libsimdjson-dev libboost-dev libcpp-httplib-dev)
if [[ "${B2BSEG_WITH_FUZZ:-0}" == 1 ]]; then pkgs+=(clang libclang-rt-14-dev); fi
if [[ "${B2BSEG_WITH_MPI:-0}" == 1 ]]; then pkgs+=(libopenmpi-dev openmpi-bin); fi
# The TSan build compiles Debian's oneTBB source (scripts/tsan-tbb.sh).
if [[ "${B2BSEG_WITH_TSAN:-0}" == 1 ]]; then pkgs+=(curl ca-certificates xz-utils patch); fi
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]} == 0)); then exit 0; fi
echo "b2bseg: installing missing packages: ${missing[*]}" >&2
sudo=""; [[ $(id -u) == 0 ]] || sudo="sudo"
export DEBIAN_FRONTEND=noninteractive
echo "b2bseg: updating the package lists (apt-get update) ..." >&2
$sudo apt-get update -qq
# A line per package downloaded, unpacked and set up, so that the wait never looks like a hang.
echo "b2bseg: downloading and installing ${#missing[@]} packages and what they need ..." >&2
$sudo apt-get install -y --no-install-recommends "${missing[@]}" 2>&1 |
  { grep --line-buffered -E '^(Get:|Unpacking|Setting up)' || true; } | sed -u 's/^/  /' >&2
echo "b2bseg: packages installed" >&2
