// Transparent huge pages for the process's heap: on the VMs this product runs on, a page fault
// costs about 11 µs, so a load that touches 1 GB of fresh memory spends 3 s faulting it in. With
// glibc's `glibc.malloc.hugetlb=1` tunable, malloc asks the kernel for 2 MiB pages
// (madvise(MADV_HUGEPAGE)) and the same memory costs 0.4 s. And with
// `glibc.malloc.mmap_threshold` at 1 GiB, the large arrays a load frees between its phases stay
// in the heap for the next ones instead of each being a fresh mapping the kernel zeroes again.
// Tunables are read once, when the process starts, so a program that wants them re-executes
// itself with them set. HACKING.md ("Memory and page faults") has the measurements.
#pragma once

#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#if defined(__linux__)
#include <unistd.h>
#endif

namespace b2bseg {

/// True when the kernel gives huge pages to memory that asks for them: the `enabled` setting of
/// /sys/kernel/mm/transparent_hugepage is `madvise` (or `always`, where no asking is needed and
/// this returns false). Reads one small file.
inline bool huge_pages_on_request() {
  std::ifstream f("/sys/kernel/mm/transparent_hugepage/enabled");
  std::string line;
  return std::getline(f, line) && line.find("[madvise]") != std::string::npos;
}

/// The glibc tunables reexec_with_huge_pages sets: huge pages for the heap, and arrays up to
/// 1 GiB taken from the heap (reused once freed) rather than mapped (zeroed afresh each time).
inline constexpr const char* heap_tunables =
    "glibc.malloc.hugetlb=1:glibc.malloc.mmap_threshold=1073741824";

/// Re-executes the running program, with the same arguments and environment, once with
/// GLIBC_TUNABLES=`heap_tunables` added, so that its heap uses huge pages. Call it first
/// thing in main(), before any thread exists (it replaces the process image; nothing of the
/// current one survives). It does nothing, and returns, when: the environment already names
/// GLIBC_TUNABLES (the user chose; the re-executed process finds it set, so it never loops),
/// B2BSEG_HUGE_PAGES=0, the kernel does not give huge pages on request, the C library is not
/// glibc 2.35 or later, the build has AddressSanitizer or ThreadSanitizer (their allocators ignore
/// the tunable), or anything on the way fails (the program then runs as it would have). Never
/// throws.
inline void reexec_with_huge_pages() noexcept {
#if defined(__linux__) && defined(__GLIBC__) && \
    (__GLIBC__ > 2 || (__GLIBC__ == 2 && __GLIBC_MINOR__ >= 35))
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
  return;
#else
  try {
    if (std::getenv("GLIBC_TUNABLES")) return;
    if (const char* v = std::getenv("B2BSEG_HUGE_PAGES"); v && std::strcmp(v, "0") == 0) return;
    if (!huge_pages_on_request()) return;
    // The arguments as the kernel holds them: NUL-separated in /proc/self/cmdline.
    std::ifstream f("/proc/self/cmdline", std::ios::binary);
    const std::string cmdline{std::istreambuf_iterator<char>(f), std::istreambuf_iterator<char>()};
    if (cmdline.empty()) return;
    std::vector<char*> args;
    for (std::size_t at = 0; at < cmdline.size(); at += std::strlen(cmdline.data() + at) + 1)
      args.push_back(const_cast<char*>(cmdline.data() + at));
    args.push_back(nullptr);
    if (::setenv("GLIBC_TUNABLES", heap_tunables, 0) != 0) return;
    ::execv("/proc/self/exe", args.data());
    ::unsetenv("GLIBC_TUNABLES");  // exec failed: run on without it
  } catch (...) {
  }
#endif
#endif
}

}  // namespace b2bseg
