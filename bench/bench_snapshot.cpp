// Snapshot benchmark (SPEC 2.5): opening the generated dataset's snapshot (map, checksums,
// structural checks, bitmaps), and opening it then evaluating the whole suite, against loading the
// same dataset from CSV. Every run checks its result: the row count of every entity against the
// generator's report, and every segment's members against those of the graph loaded from CSV.
//
//   build/bench/bench_snapshot                                # 1M people (generated once)
//   B2BSEG_BENCH_PEOPLE=100000 build/bench/bench_snapshot     # quick run
//
// The snapshot is written once to bench/data/<people>.b2bs (not timed) from the CSV load.
#include <b2bseg/b2bseg.hpp>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "common.hpp"

namespace {

namespace fs = std::filesystem;

struct world {
  const bench::dataset* d = nullptr;
  std::string snapshot;
  b2bseg::bound_file f;
  b2bseg::timestamp_us as_of = 0;
  std::vector<std::uint64_t> members;  // per segment, from the CSV load
};

const world& the_world() {
  static world* w = [] {
    auto* x = new world;
    x->d = &bench::cached_dataset(bench::people_from_env());
    const b2bseg::graph g = b2bseg::load_dataset(x->d->dir);
    x->snapshot = (bench::data_root() / (std::to_string(x->d->people) + ".b2bs")).string();
    b2bseg::write_snapshot(g, x->snapshot);  // always from this load: never a stale file
    std::ifstream in(fs::path(__FILE__).parent_path() / "suite" / "b2bseg_suite.seg");
    std::stringstream ss;
    ss << in.rdbuf();
    x->f = b2bseg::compile_segments(ss.str(), g.schema(), "b2bseg_suite.seg");
    b2bseg::parse_timestamp("2026-11-22T00:00:00Z", x->as_of);
    const auto ev = b2bseg::evaluate(g, x->f, {.as_of = x->as_of, .threads = 0, .segments = {}});
    for (const auto& s : ev.segments) x->members.push_back(s.members.cardinality());
    return x;
  }();
  return *w;
}

/// Every entity's rows as the generator reported them.
bool rows_match(benchmark::State& state, const world& w, const b2bseg::graph& g) {
  for (b2bseg::entity_id e = 0; e < g.entity_count(); ++e) {
    const std::string& name = g.schema().entities[e].name;
    if (!bench::check(state, name + " rows", g.rows(e), w.d->rows_of(name))) return false;
  }
  return true;
}

void BM_open_snapshot(benchmark::State& state) {
  const world& w = the_world();
  bench::thread_cap cap(static_cast<std::size_t>(state.range(0)));
  b2bseg::snapshot_info info;
  double checksum_ms = 0;
  for (auto _ : state) {
    b2bseg::graph g = b2bseg::open_snapshot(w.snapshot, &info);
    checksum_ms += info.checksum_ms;
    if (!rows_match(state, w, g)) return;
  }
  state.counters["file_MB"] = static_cast<double>(info.file_bytes) / 1e6;
  state.counters["checksum_ms"] = checksum_ms / static_cast<double>(state.iterations());
  state.counters["rows/s"] = bench::rate(static_cast<double>(w.d->total_rows()), state);
}
BENCHMARK(BM_open_snapshot)->Arg(1)->Arg(2)->Unit(benchmark::kMillisecond)->UseRealTime();

void BM_open_snapshot_and_eval_suite(benchmark::State& state) {
  const world& w = the_world();
  bench::thread_cap cap(static_cast<std::size_t>(state.range(0)));
  const auto threads = static_cast<unsigned>(state.range(0));
  for (auto _ : state) {
    b2bseg::graph g = b2bseg::open_snapshot(w.snapshot);
    const auto ev =
        b2bseg::evaluate(g, w.f, {.as_of = w.as_of, .threads = threads, .segments = {}});
    for (std::size_t i = 0; i < ev.segments.size(); ++i)
      if (!bench::check(state, ev.segments[i].name, ev.segments[i].members.cardinality(),
                        w.members[i]))
        return;
  }
  state.counters["profile_evals/s"] =
      bench::rate(static_cast<double>(w.d->people) * static_cast<double>(w.members.size()), state);
}
BENCHMARK(BM_open_snapshot_and_eval_suite)->Arg(2)->Unit(benchmark::kMillisecond)->UseRealTime();

void BM_load_csv(benchmark::State& state) {
  const world& w = the_world();
  bench::thread_cap cap(static_cast<std::size_t>(state.range(0)));
  for (auto _ : state) {
    b2bseg::graph g = b2bseg::load_dataset(w.d->dir);
    if (!rows_match(state, w, g)) return;
  }
}
BENCHMARK(BM_load_csv)->Arg(2)->Iterations(3)->Unit(benchmark::kMillisecond)->UseRealTime();

}  // namespace

BENCHMARK_MAIN();
