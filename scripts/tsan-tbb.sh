#!/usr/bin/env bash
# Builds Debian's own oneTBB source (the version libtbb-dev installs, with Debian's patches) with
# ThreadSanitizer, into DIR/install, for the TSan test build. Prints the folder holding
# TBBConfig.cmake. Does nothing when DIR already holds that build.
#   scripts/tsan-tbb.sh build-tsan/tbb
#
# Why: Debian's libtbb.so is not instrumented. Its scheduler hands tasks over (and waits for
# them) with atomics TSan cannot see, so a worker's read of a task object on the caller's stack
# and the caller's later reuse of that stack look like a race. Suppressions can match such a
# report only when TSan still has the worker's stack, which it often does not ("failed to
# restore the stack"): CI failed on one. With TBB instrumented, TSan sees every hand-over.
set -euo pipefail
dir="$1"
version=2021.8.0
debian_rev=2+deb12u1
# SHA-256 sums from Debian's onetbb_${version}-${debian_rev}.dsc.
orig_sha=7e9111b8bb59c8800bf6d0b06afe7b0891937443d2dae1ee1101c8e2ede6a7ef
debian_sha=b83a270205b38cdf66972fa1467c3e29493b88b92ecacf4f3672e87d67199df5
pool=http://deb.debian.org/debian/pool/main/o/onetbb
stamp="$dir/install/.b2bseg-tsan-$version-$debian_rev"
config="$dir/install/lib/cmake/TBB"
if [[ -f "$stamp" ]]; then
  echo "$config"
  exit 0
fi
installed=$(dpkg-query -W -f='${Version}' libtbb-dev 2>/dev/null || true)
if [[ "$installed" != "$version-$debian_rev" ]]; then
  echo "b2bseg: libtbb-dev is $installed here; scripts/tsan-tbb.sh builds $version-$debian_rev" \
    "(update both together)" >&2
fi
rm -rf "$dir"
mkdir -p "$dir"
echo "b2bseg: building oneTBB $version with ThreadSanitizer in $dir (about a minute) ..." >&2
for f in "onetbb_$version.orig.tar.xz:$orig_sha" "onetbb_$version-$debian_rev.debian.tar.xz:$debian_sha"; do
  name=${f%%:*}
  curl -fsSL --retry 3 -o "$dir/$name" "$pool/$name"
  echo "${f##*:}  $dir/$name" | sha256sum --quiet -c -
  tar -xJf "$dir/$name" -C "$dir"
done
src="$dir/oneTBB-$version"
while read -r patch; do
  [[ -z "$patch" || "$patch" == \#* ]] && continue
  patch -d "$src" -p1 -s <"$dir/debian/patches/$patch"
done <"$dir/debian/patches/series"
cmake -S "$src" -B "$dir/build" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DTBB_SANITIZE=thread \
  -DTBB_TEST=OFF -DTBBMALLOC_BUILD=OFF -DTBB_STRICT=OFF -DTBB_DISABLE_HWLOC_AUTOMATIC_SEARCH=ON \
  -DCMAKE_INSTALL_PREFIX="$(realpath "$dir")/install" >"$dir/configure.log" 2>&1 ||
  { tail -30 "$dir/configure.log" >&2; exit 1; }
cmake --build "$dir/build" -j2 >"$dir/build.log" 2>&1 || { tail -30 "$dir/build.log" >&2; exit 1; }
cmake --install "$dir/build" >"$dir/install.log" 2>&1
touch "$stamp"
echo "$config"
