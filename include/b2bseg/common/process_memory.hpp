// This process's memory as the kernel counts it (/proc/self/status): for reports that say where
// a run's memory peaks (the phases of a load over processes, the benchmarks).
#pragma once

#include <cstdint>
#include <cstdlib>
#include <fstream>
#include <string>

namespace b2bseg {

namespace detail {
/// The value of a "Name:   N kB" line of /proc/self/status, in bytes; 0 when absent.
inline std::uint64_t proc_status_bytes(const char* name) {
  std::ifstream in("/proc/self/status");
  std::string line;
  const std::string prefix = std::string(name) + ":";
  while (std::getline(in, line))
    if (line.rfind(prefix, 0) == 0)
      return std::strtoull(line.c_str() + prefix.size(), nullptr, 10) * 1024;
  return 0;
}
}  // namespace detail

/// The most memory this process has held resident so far (VmHWM: heap, stacks and the pages of
/// mapped files it touched), in bytes; 0 where /proc is not mounted. Reads one small file.
inline std::uint64_t peak_rss_bytes() {
  return detail::proc_status_bytes("VmHWM");
}

/// The memory this process holds resident now (VmRSS), in bytes; 0 where /proc is not mounted.
inline std::uint64_t rss_bytes() {
  return detail::proc_status_bytes("VmRSS");
}

}  // namespace b2bseg
