// Shared helpers of the Google Benchmark binaries: a generated dataset cached under
// bench/data/<people>/ (gitignored), the size picked from the environment, thread caps and
// checked results.
//
// Environment:
//   B2BSEG_BENCH_PEOPLE  people of the generated dataset (default: the benchmark's own, 1000000)
//   B2BSEG_BENCH_DATA    folder holding the cached datasets (default: bench/data of the source
//   tree)
#pragma once

#include "b2bseg/common/huge_pages.hpp"
#include "b2bseg/gen/generator.hpp"

#include <benchmark/benchmark.h>
#include <tbb/global_control.h>

#include <malloc.h>

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <mutex>
#include <sstream>
#include <string>

namespace bench {

/// Every benchmark binary runs with huge pages for its heap, as the b2bseg command does
/// (b2bseg/common/huge_pages.hpp): re-executed before main() when the environment lets it.
inline const bool huge_pages_requested = (b2bseg::reexec_with_huge_pages(), true);

/// The seed of every generated benchmark dataset.
inline constexpr std::uint64_t dataset_seed = 42;

/// People of the benchmark dataset: $B2BSEG_BENCH_PEOPLE when set (and positive), else `fallback`.
inline std::uint64_t people_from_env(std::uint64_t fallback = 1000000) {
  if (const char* s = std::getenv("B2BSEG_BENCH_PEOPLE")) {
    char* end = nullptr;
    unsigned long long v = std::strtoull(s, &end, 10);
    if (end != s && *end == '\0' && v > 0) return v;
    std::fprintf(stderr, "bench: ignoring B2BSEG_BENCH_PEOPLE='%s'\n", s);
  }
  return fallback;
}

/// The folder of cached datasets: $B2BSEG_BENCH_DATA, else bench/data next to this header.
inline std::filesystem::path data_root() {
  if (const char* s = std::getenv("B2BSEG_BENCH_DATA")) return s;
  return std::filesystem::path(__FILE__).parent_path() / "data";
}

/// A generated dataset on disk and what the generator reported for it.
struct dataset {
  std::string dir;
  std::uint64_t people = 0;
  std::map<std::string, std::uint64_t> rows;  ///< rows per entity, as the generator wrote them
  std::uint64_t csv_bytes = 0;                ///< bytes of all CSV files (schema.json excluded)
  std::uint64_t rows_of(const std::string& entity) const {
    auto it = rows.find(entity);
    return it == rows.end() ? 0 : it->second;
  }
  std::uint64_t total_rows() const {
    std::uint64_t n = 0;
    for (const auto& [e, r] : rows) n += r;
    return n;
  }
};

namespace detail {

inline constexpr const char* report_name = "generate_report.txt";

// Reads the report written after a complete generation; false when missing or unreadable.
inline bool read_report(const std::filesystem::path& dir, dataset& d) {
  std::ifstream in(dir / detail::report_name);
  if (!in) return false;
  std::string word;
  std::uint64_t v = 0, seed = 0, people = 0;
  d.rows.clear();
  while (in >> word >> v) {
    if (word == "seed")
      seed = v;
    else if (word == "people")
      people = v;
    else
      d.rows[word] = v;
  }
  return seed == dataset_seed && people == d.people && !d.rows.empty();
}

}  // namespace detail

/// The dataset of `people` people (seed 42) under data_root()/<people>/, generated on first use
/// (and then reused: the generator's report is stored beside the files, written last, so a
/// partial generation is redone). Also checks that every CSV file is there. Throws on failure.
inline const dataset& cached_dataset(std::uint64_t people) {
  namespace fs = std::filesystem;
  static std::mutex mu;
  static std::map<std::uint64_t, std::unique_ptr<dataset>> cache;
  std::lock_guard<std::mutex> lock(mu);
  auto& slot = cache[people];
  if (slot) return *slot;
  auto d = std::make_unique<dataset>();
  d->people = people;
  const fs::path dir = data_root() / std::to_string(people);
  d->dir = dir.string();
  if (!detail::read_report(dir, *d)) {
    std::fprintf(stderr, "bench: generating %llu people (seed %llu) into %s ...\n",
                 static_cast<unsigned long long>(people),
                 static_cast<unsigned long long>(dataset_seed), d->dir.c_str());
    const auto t0 = std::chrono::steady_clock::now();
    fs::remove(dir / detail::report_name);
    b2bseg::generate_report rep = b2bseg::generate_dataset(
        d->dir, b2bseg::generate_options{.people = people, .seed = dataset_seed});
    std::ostringstream out;
    out << "seed " << dataset_seed << "\npeople " << people << "\n";
    for (const auto& [e, r] : rep.rows) out << e << " " << r << "\n";
    {
      std::ofstream f(dir / "generate_report.tmp");
      f << out.str();
      if (!f.flush())
        throw std::runtime_error("bench: cannot write " + (dir / detail::report_name).string());
    }
    fs::rename(dir / "generate_report.tmp", dir / detail::report_name);
    d->rows = rep.rows;
    std::fprintf(stderr, "bench: generated in %.1f s\n",
                 std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
  }
  for (const auto& [entity, r] : d->rows) {
    const fs::path csv = dir / (entity + ".csv");
    std::error_code ec;
    const auto size = fs::file_size(csv, ec);
    if (ec)
      throw std::runtime_error("bench: missing " + csv.string() + " (delete " + d->dir +
                               " to regenerate)");
    d->csv_bytes += size;
  }
  slot = std::move(d);
  return *slot;
}

/// Caps oneTBB's default parallelism for the lifetime of the object (one benchmark run).
class thread_cap {
 public:
  explicit thread_cap(std::size_t threads)
      : gc_(tbb::global_control::max_allowed_parallelism, threads) {}

 private:
  tbb::global_control gc_;
};

/// Puts glibc's allocator in the state of a long-running process that has already freed a large
/// block (as any engine has after loading a dataset): the dynamic mmap threshold rises to its
/// maximum (just under 32 MiB), so that bitsets of a few MB come from the heap and are not unmapped
/// and faulted in again on every allocation. Without this, the first benchmarks of a fresh process
/// measure page faults (about 10 us each on this VM) instead of the kernel.
inline void settle_malloc() {
  void* p = std::malloc((std::size_t{32} << 20) - (std::size_t{64} << 10));  // at most the maximum
  if (p) static_cast<volatile char*>(p)[0] = 1;
  std::free(p);
}

/// The text of the bench suite's segments file, bench/suite/b2bseg_suite.seg.
inline std::string suite_segments_text() {
  std::ifstream in(std::filesystem::path(__FILE__).parent_path() / "suite" / "b2bseg_suite.seg");
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

/// Records an error (once) and returns false when `got != want`. Use as
/// `if (!bench::check(state, "count", got, want)) break;` (or return, outside the loop).
template <class T, class U>
bool check(benchmark::State& state, const std::string& what, const T& got, const U& want) {
  if (got == want) return true;
  std::ostringstream m;
  m << "wrong result: " << what << " = " << got << ", expected " << want;
  state.SkipWithError(m.str().c_str());
  return false;
}

/// Records an error for a failed condition. Returns `ok`.
inline bool check_true(benchmark::State& state, bool ok, const std::string& what) {
  if (!ok) state.SkipWithError(("check failed: " + what).c_str());
  return ok;
}

/// A rate counter: `per_iteration * iterations` per second of (real) time.
inline benchmark::Counter rate(double per_iteration, const benchmark::State& state) {
  return benchmark::Counter(per_iteration * static_cast<double>(state.iterations()),
                            benchmark::Counter::kIsRate);
}

}  // namespace bench
