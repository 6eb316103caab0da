// Load benchmarks of the graph store: `load_dataset` on a generated dataset (default 1M people,
// ~100k accounts, ~300k opportunities, ~10M events; seed 42, cached under bench/data/<N>/) with 1
// and 2 threads, and the load of one entity file alone (person.csv, event.csv); and what the
// first touch of fresh memory costs, with 4 KiB and with 2 MiB pages (why the command runs with
// huge pages: HACKING.md, "Memory and page faults"); and what reading event.csv costs mapped
// or copied with pread (why the loader scans copies: the same section).
//
// Counters: CSV_MB/s (bytes of all CSV files / real time, 1 MB = 10^6 bytes), rows/s, CPU time of
// the whole process during the load (user_s, sys_s) and MB/cpu_s (CSV MB per CPU second: per-core
// speed, less disturbed by other processes than wall time), memory of the graph (graph_MB, B/row)
// and of the person table (person_B/row), and the loader's own phase times from load_report
// (parse_ms, index_ms, summed over entities; other_ms: the rest).
// Each load is checked: row counts against the generator's report (every iteration), and
// graph::validate() once per benchmark (outside the timed region).
//
//   B2BSEG_BENCH_PEOPLE=100000 build-bench/bench/bench_load   # quick run on 100k people
#include "common.hpp"

#include <tbb/enumerable_thread_specific.h>
#include <b2bseg/b2bseg.hpp>

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <iterator>
#include <optional>
#include <string>
#include <vector>

namespace {

using b2bseg::entity_id;

// User and system CPU seconds of the whole process so far (all threads).
struct cpu_seconds {
  double user = 0, sys = 0;
  static cpu_seconds now() {
    rusage u{};
    getrusage(RUSAGE_SELF, &u);
    auto sec = [](const timeval& t) { return static_cast<double>(t.tv_sec) + t.tv_usec / 1e6; };
    return {sec(u.ru_utime), sec(u.ru_stime)};
  }
};

// Checks a loaded graph against the generator's report: one table per entity, row counts equal.
bool check_rows(benchmark::State& state, const b2bseg::graph& g, const bench::dataset& d) {
  if (!bench::check(state, "entity count", g.entity_count(), d.rows.size())) return false;
  for (entity_id e = 0; e < g.entity_count(); ++e) {
    const std::string& name = g.schema().entities[e].name;
    if (!bench::check(state, "rows of " + name, g.rows(e), d.rows_of(name))) return false;
  }
  return true;
}

bool check_valid(benchmark::State& state, const b2bseg::graph& g) {
  try {
    g.validate();
    return true;
  } catch (const std::exception& x) {
    state.SkipWithError((std::string("graph::validate failed: ") + x.what()).c_str());
    return false;
  }
}

// Prints, once per process, where the person table's bytes go.
void print_person_memory(const b2bseg::graph& g) {
  static bool done = false;
  if (done) return;
  done = true;
  const entity_id person = g.schema().find_entity("person");
  const double rows = static_cast<double>(g.rows(person));
  std::fprintf(stderr, "person table: %.1f bytes/row over %.0f rows:",
               g.table(person).memory_bytes() / rows, rows);
  for (const auto& m : g.memory_report())
    if (m.entity == "person")
      std::fprintf(stderr, " [%s %.1f]", m.structure.c_str(), m.bytes / rows);
  std::fprintf(stderr, "\n");
}

// ---- the whole dataset ------------------------------------------------------------------------

void BM_load_dataset(benchmark::State& state) {
  const bench::thread_cap cap(static_cast<std::size_t>(state.range(0)));
  const bench::dataset& d = bench::cached_dataset(bench::people_from_env());
  bool validated = false;
  double graph_bytes = 0, person_bytes_per_row = 0, parse_ms = 0, index_ms = 0, load_ms = 0;
  double person_ms = 0, event_ms = 0, person_mb = 0, event_mb = 0, user_s = 0, sys_s = 0;
  for (auto _ : state) {
    b2bseg::load_report rep;
    std::optional<b2bseg::graph> g;
    const cpu_seconds c0 = cpu_seconds::now();
    g.emplace(b2bseg::load_dataset(d.dir, {}, &rep));
    const cpu_seconds c1 = cpu_seconds::now();
    state.PauseTiming();
    user_s = c1.user - c0.user;
    sys_s = c1.sys - c0.sys;
    if (!check_rows(state, *g, d)) break;
    if (!bench::check(state, "report total_bytes", rep.total_bytes, d.csv_bytes)) break;
    if (!validated) {
      if (!check_valid(state, *g)) break;
      validated = true;
      print_person_memory(*g);
    }
    const entity_id person = g->schema().find_entity("person");
    graph_bytes = static_cast<double>(g->memory_bytes());
    person_bytes_per_row = static_cast<double>(g->table(person).memory_bytes()) / g->rows(person);
    parse_ms = index_ms = 0;
    for (const auto& e : rep.entities) {
      parse_ms += e.parse_ms;
      index_ms += e.index_ms;
      if (e.entity == "person") person_ms = e.parse_ms + e.index_ms, person_mb = e.bytes / 1e6;
      if (e.entity == "event") event_ms = e.parse_ms + e.index_ms, event_mb = e.bytes / 1e6;
    }
    load_ms = rep.load_ms;
    g.reset();  // freeing the graph is not part of the load
    state.ResumeTiming();
  }
  state.counters["CSV_MB/s"] = bench::rate(d.csv_bytes / 1e6, state);
  state.counters["rows/s"] = bench::rate(static_cast<double>(d.total_rows()), state);
  // CPU seconds of all threads during one load, and CSV MB per CPU second (per-core speed, which
  // other processes on the machine affect far less than the wall-clock rate).
  state.counters["user_s"] = user_s;
  state.counters["sys_s"] = sys_s;
  state.counters["MB/cpu_s"] = user_s + sys_s > 0 ? d.csv_bytes / 1e6 / (user_s + sys_s) : 0;
  state.counters["graph_MB"] = graph_bytes / 1e6;
  state.counters["B/row"] = graph_bytes / static_cast<double>(d.total_rows());
  state.counters["person_B/row"] = person_bytes_per_row;
  state.counters["parse_ms"] = parse_ms;
  state.counters["index_ms"] = index_ms;
  state.counters["other_ms"] = load_ms - parse_ms - index_ms;
  state.counters["person_MB/s"] = person_ms > 0 ? person_mb / (person_ms / 1e3) : 0;
  state.counters["event_MB/s"] = event_ms > 0 ? event_mb / (event_ms / 1e3) : 0;
  state.SetLabel(std::to_string(d.people) + " people, " + std::to_string(d.csv_bytes / 1000000) +
                 " MB CSV");
}

// ---- one entity file alone --------------------------------------------------------------------

// The graph every per-entity benchmark takes its link targets from, loaded once.
const b2bseg::graph& reference_graph(const bench::dataset& d) {
  static std::optional<b2bseg::graph> g;
  static std::string dir;
  if (!g || dir != d.dir) {
    g.reset();
    g.emplace(b2bseg::load_dataset(d.dir));
    dir = d.dir;
  }
  return *g;
}

// Loads entity `name` from its CSV file exactly as load_dataset does for one entity (read and
// validate the file, split, parse chunks in parallel, build the table with every index), with the
// tables of its link targets taken from the reference graph. Keep in step with load_dataset.
void BM_load_entity(benchmark::State& state, const char* name) {
  const bench::thread_cap cap(static_cast<std::size_t>(state.range(0)));
  const bench::dataset& d = bench::cached_dataset(bench::people_from_env());
  const b2bseg::graph& ref = reference_graph(d);
  const b2bseg::schema& s = ref.schema();
  const entity_id e = s.find_entity(name);
  if (!bench::check_true(state, e != b2bseg::no_entity, std::string("entity ") + name + " exists"))
    return;
  const b2bseg::entity_def& def = s.entities[e];
  // Link targets are complete tables, as in a full load.
  std::vector<b2bseg::entity_table> tables(s.entities.size());
  std::vector<bool> built(s.entities.size(), false);
  for (const auto& l : def.links)
    if (l.target != e) {
      tables[l.target] = ref.table(l.target);
      built[l.target] = true;
    }
  const std::string path = (std::filesystem::path(d.dir) / def.file).string();
  const std::uint64_t bytes = std::filesystem::file_size(path);
  bool validated = false;
  double parse_ms = 0, index_ms = 0;
  for (auto _ : state) {
    auto t0 = std::chrono::steady_clock::now();
    b2bseg::csv_file f = b2bseg::csv_file::open_lean(path);
    b2bseg::detail::field_map fm = b2bseg::detail::map_header(def, f);
    const std::size_t workers = static_cast<std::size_t>(tbb::this_task_arena::max_concurrency());
    const std::size_t want = b2bseg::detail::chunk_count(workers, f.body_size());
    std::vector<b2bseg::csv_chunk> parts = f.split(want);
    std::vector<b2bseg::detail::raw_chunk> chunks(parts.size());
    const auto targets = b2bseg::detail::link_targets(s, e, tables, built);
    {
      tbb::enumerable_thread_specific<b2bseg::chunk_buffer> buffers;
      tbb::parallel_for(std::size_t(0), parts.size(), [&](std::size_t c) {
        const b2bseg::csv_chunk part = f.copy_chunk(parts[c], buffers.local());
        b2bseg::csv_record_reader reader(f, part);
        b2bseg::detail::parse_records(reader, def, fm, part.begin, part.end, f.name(), false,
                                      targets, {}, chunks[c], part.limit != nullptr);
      });
    }
    auto t1 = std::chrono::steady_clock::now();
    b2bseg::load_report rep;
    std::vector<b2bseg::detail::deferred_link> deferred;
    std::optional<b2bseg::entity_table> t;
    t.emplace(
        b2bseg::detail::build_table(s, e, chunks, f.name(), tables, built, false, rep, deferred));
    auto t2 = std::chrono::steady_clock::now();
    state.PauseTiming();
    parse_ms = std::chrono::duration<double, std::milli>(t1 - t0).count();
    index_ms = std::chrono::duration<double, std::milli>(t2 - t1).count();
    if (!bench::check(state, std::string("rows of ") + name, t->rows, d.rows_of(name))) break;
    if (!bench::check(state, "deferred links", deferred.size(), std::size_t(0))) break;
    if (!validated) {  // the table must equal the one of the full load
      validated = true;
      const auto& r = ref.table(e);
      if (!bench::check(state, "memory bytes vs full load", t->memory_bytes(), r.memory_bytes()))
        break;
      bool same = true;
      for (std::size_t l = 0; l < def.links.size() && same; ++l) {
        auto a = t->links[l].parents(), b = r.links[l].parents();
        same = std::equal(a.begin(), a.end(), b.begin(), b.end());
      }
      for (std::size_t k = 0; k < t->rows && same && t->has_key; ++k)
        same = t->keys.key(b2bseg::row_id(k)) == r.keys.key(b2bseg::row_id(k));
      if (!bench::check_true(state, same, "keys and links equal those of the full load")) break;
      try {
        for (auto& c : t->columns) c.validate();
        for (auto& l : t->links) l.validate();
      } catch (const std::exception& x) {
        state.SkipWithError((std::string("validate failed: ") + x.what()).c_str());
        break;
      }
    }
    t.reset();
    chunks.clear();
    state.ResumeTiming();
  }
  state.counters["MB/s"] = bench::rate(bytes / 1e6, state);
  state.counters["rows/s"] = bench::rate(static_cast<double>(d.rows_of(name)), state);
  state.counters["parse_ms"] = parse_ms;
  state.counters["index_ms"] = index_ms;
  state.SetLabel(std::string(def.file) + ", " + std::to_string(bytes / 1000000) + " MB");
}

/// Maps 256 MiB of fresh anonymous memory, asks for huge pages when `huge`, writes one byte per
/// 4 KiB page (what a load's new arrays cost before their first real use), checks every page holds
/// its byte, and unmaps. Counter: us/page, per 4 KiB page touched.
void BM_fresh_memory(benchmark::State& state, bool huge) {
  constexpr std::size_t bytes = std::size_t{256} << 20, page = 4096;
  double touch_us = 0;
  for (auto _ : state) {
    const auto t0 = std::chrono::steady_clock::now();
    void* m = ::mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (m == MAP_FAILED) {
      state.SkipWithError("mmap failed");
      break;
    }
    auto* p = static_cast<volatile unsigned char*>(m);
    if (huge) ::madvise(m, bytes, MADV_HUGEPAGE);
    for (std::size_t i = 0; i < bytes; i += page) p[i] = static_cast<unsigned char>(i >> 12);
    touch_us +=
        std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - t0).count();
    state.PauseTiming();
    std::size_t wrong = 0;
    for (std::size_t i = 0; i < bytes; i += page)
      wrong += p[i] != static_cast<unsigned char>(i >> 12);
    state.ResumeTiming();
    ::munmap(m, bytes);
    if (!bench::check(state, "pages holding their byte", wrong, std::size_t{0})) break;
  }
  state.counters["us/page"] = touch_us / (double(state.iterations()) * double(bytes / page));
}

/// How a scan reads a file: its mapping read in at once (MAP_POPULATE, what csv_file::open does),
/// its mapping read in as touched and given back in 64 MiB pieces (madvise), or copies of 4 MiB
/// pieces into one reused buffer (pread, what open_lean's scans and copy_chunk do).
enum class file_read { mapped_whole, mapped_pieces, pread_pieces };

/// Counts the newlines of the bench dataset's event.csv (its page cache warm after the first
/// run) read the way `how` says, then lets go of it; checks the count against a plain read.
/// Counter: ms/GB of file.
void BM_read_file(benchmark::State& state, file_read how) {
  const bench::dataset& d = bench::cached_dataset(bench::people_from_env());
  const std::string path = (std::filesystem::path(d.dir) / "event.csv").string();
  static std::size_t expected = ~std::size_t{0};
  if (expected == ~std::size_t{0}) {
    std::ifstream in(path, std::ios::binary);
    expected = static_cast<std::size_t>(
        std::count(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>(), '\n'));
  }
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  struct stat st {};
  if (fd < 0 || ::fstat(fd, &st) != 0) {
    state.SkipWithError(("cannot open " + path).c_str());
    return;
  }
  const auto size = static_cast<std::size_t>(st.st_size);
  constexpr std::size_t piece = std::size_t{4} << 20, window = std::size_t{64} << 20;
  std::vector<char> buffer(piece);
  double total_ms = 0;
  for (auto _ : state) {
    const auto t0 = std::chrono::steady_clock::now();
    std::size_t quotes = 0, newlines = 0;
    if (how == file_read::pread_pieces) {
      for (std::size_t at = 0; at < size; at += piece) {
        const std::size_t n = std::min(piece, size - at);
        if (::pread(fd, buffer.data(), n, static_cast<off_t>(at)) != static_cast<ssize_t>(n)) break;
        b2bseg::detail::count_quotes_and_newlines(buffer.data(), buffer.data() + n, quotes,
                                                  newlines);
      }
    } else {
      const bool whole = how == file_read::mapped_whole;
      void* m = ::mmap(nullptr, size, PROT_READ, MAP_PRIVATE | (whole ? MAP_POPULATE : 0), fd, 0);
      if (m == MAP_FAILED) {
        state.SkipWithError("mmap failed");
        break;
      }
      const char* text = static_cast<const char*>(m);
      for (std::size_t at = 0; at < size; at += window) {
        const std::size_t n = std::min(window, size - at);
        b2bseg::detail::count_quotes_and_newlines(text + at, text + at + n, quotes, newlines);
        if (!whole) ::madvise(const_cast<char*>(text) + at, n, MADV_DONTNEED);
      }
      ::munmap(m, size);
    }
    total_ms +=
        std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
    if (!bench::check(state, "newlines of event.csv", newlines, expected)) break;
  }
  ::close(fd);
  state.counters["ms/GB"] =
      total_ms / static_cast<double>(state.iterations()) / (static_cast<double>(size) / 1e9);
}

}  // namespace

BENCHMARK_CAPTURE(BM_read_file, mapped_whole, file_read::mapped_whole)
    ->Iterations(5)
    ->UseRealTime()
    ->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(BM_read_file, mapped_pieces, file_read::mapped_pieces)
    ->Iterations(5)
    ->UseRealTime()
    ->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(BM_read_file, pread_pieces, file_read::pread_pieces)
    ->Iterations(5)
    ->UseRealTime()
    ->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(BM_fresh_memory, pages_4k, false)
    ->Iterations(5)
    ->UseRealTime()
    ->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(BM_fresh_memory, pages_2m, true)
    ->Iterations(5)
    ->UseRealTime()
    ->Unit(benchmark::kMillisecond);
BENCHMARK(BM_load_dataset)
    ->ArgName("threads")
    ->Arg(1)
    ->Arg(2)
    ->Iterations(1)
    ->UseRealTime()
    ->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(BM_load_entity, person, "person")
    ->ArgName("threads")
    ->Arg(1)
    ->Arg(2)
    ->Iterations(1)
    ->UseRealTime()
    ->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(BM_load_entity, event, "event")
    ->ArgName("threads")
    ->Arg(1)
    ->Arg(2)
    ->Iterations(1)
    ->UseRealTime()
    ->Unit(benchmark::kMillisecond);

int main(int argc, char** argv) {
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  bench::settle_malloc();
  benchmark::AddCustomContext("people", std::to_string(bench::people_from_env()));
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
