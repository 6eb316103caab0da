// Activation benchmark: the whole suite (bench/suite/b2bseg_suite.seg) handed to `files`
// destinations with 3 fields each (one an aggregate), uncompressed, gzip and zstd, on the
// generated dataset (default 1M people). Reports rows written per second; every run checks that
// each segment's file holds exactly its members (rows = members, keys in order).
//
//   build/bench/bench_activate                                # 1M people (generated once)
//   B2BSEG_BENCH_PEOPLE=100000 build/bench/bench_activate     # quick run
#include <b2bseg/activate/activate.hpp>
#include <b2bseg/b2bseg.hpp>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "common.hpp"

namespace {

namespace fs = std::filesystem;

struct world {
  b2bseg::graph g;
  b2bseg::bound_file f;
  b2bseg::evaluation ev;
  b2bseg::timestamp_us as_of = 0;
  std::uint64_t members = 0;  // of the segments on person and account
};

const world& the_world() {
  static world* w = [] {
    auto* x = new world;
    const bench::dataset& d = bench::cached_dataset(bench::people_from_env());
    x->g = b2bseg::load_dataset(d.dir);
    std::ifstream in(fs::path(__FILE__).parent_path() / "suite" / "b2bseg_suite.seg");
    std::stringstream ss;
    ss << in.rdbuf();
    x->f = b2bseg::compile_segments(ss.str(), x->g.schema(), "b2bseg_suite.seg");
    b2bseg::parse_timestamp("2026-11-22T00:00:00Z", x->as_of);
    x->ev = b2bseg::evaluate(x->g, x->f, {.as_of = x->as_of, .threads = 0, .segments = {}});
    for (const auto& s : x->ev.segments) {
      const auto& name = x->g.schema().entities[s.entity].name;
      if (name == "person" || name == "account") x->members += s.members.cardinality();
    }
    return x;
  }();
  return *w;
}

std::string destinations_json(const world& w, const std::string& compression) {
  std::string people, accounts;
  for (const auto& s : w.f.segments) {
    const auto& e = w.g.schema().entities[s.entity].name;
    std::string& list = e == "person" ? people : accounts;
    if (e != "person" && e != "account") continue;
    list += (list.empty() ? "\"" : ", \"") + s.name + "\"";
  }
  auto dest = [&](const char* name, const std::string& segs, const char* fields) {
    return std::string("{\"name\": \"") + name + "\", \"type\": \"files\", \"compression\": \"" +
           compression + "\", \"segments\": [" + segs + "], \"fields\": " + fields + "}";
  };
  return "{\"destinations\": [" +
         dest("people", people,
              R"J({"email": "email", "company": "account.name", "events": "events.count()"})J") +
         ", " +
         dest("accounts", accounts,
              R"J({"name": "name", "industry": "industry",
                   "open_pipeline": "opportunities.where(not is_closed).sum(amount)"})J") +
         "]}";
}

void BM_activate(benchmark::State& state, const std::string& compression) {
  bench::settle_malloc();
  const world& w = the_world();
  bench::thread_cap cap(static_cast<unsigned>(state.range(0)));
  const auto dests = b2bseg::parse_destinations(destinations_json(w, compression), w.g.schema(),
                                                w.f, "bench.json");
  const fs::path out = fs::temp_directory_path() / ("b2bseg-bench-activate-" + compression);
  b2bseg::activate_options o;
  o.as_of = w.as_of;
  o.threads = static_cast<unsigned>(state.range(0));
  std::uint64_t rows = 0, bytes = 0;
  for (auto _ : state) {
    const auto reps = b2bseg::activate(w.g, w.ev, dests, out.string(), o);
    rows = 0;
    for (const auto& r : reps) {
      if (!bench::check_true(state, r.error.empty(), r.name + ": " + r.error)) return;
      rows += r.rows();
    }
  }
  if (!bench::check(state, "rows written", rows, w.members)) return;
  // One file checked whole: its keys are the segment's members in order.
  if (compression == "none") {
    const auto& seg = w.ev.segments.back();
    const auto& e = w.g.schema().entities[seg.entity].name;
    const fs::path file =
        out / (e == "person" ? "people" : "accounts") / "20261122T000000Z" / (seg.name + ".csv");
    std::ifstream in(file);
    std::string line;
    std::getline(in, line);  // header
    auto it = seg.members.begin();
    std::uint64_t n = 0;
    while (std::getline(in, line)) {
      const std::string key = line.substr(0, line.find(','));
      if (!bench::check_true(state, it != seg.members.end() && key == w.g.key(seg.entity, *it),
                             "keys of " + seg.name + " differ at row " + std::to_string(n)))
        return;
      ++it;
      ++n;
    }
    if (!bench::check(state, "rows of " + seg.name, n, seg.members.cardinality())) return;
  }
  for (auto& p : fs::recursive_directory_iterator(out))
    if (p.is_regular_file() && p.path().parent_path().filename() != ".state")
      bytes += p.file_size();
  state.counters["rows_per_s"] = bench::rate(static_cast<double>(rows), state);
  state.counters["rows"] = static_cast<double>(rows);
  state.counters["MB_written"] = static_cast<double>(bytes) / 1e6;
  fs::remove_all(out);
}

BENCHMARK_CAPTURE(BM_activate, none, std::string("none"))
    ->Arg(1)
    ->Arg(2)
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime()
    ->MinTime(2);
BENCHMARK_CAPTURE(BM_activate, gzip, std::string("gzip"))
    ->Arg(2)
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime()
    ->MinTime(2);
BENCHMARK_CAPTURE(BM_activate, zstd, std::string("zstd"))
    ->Arg(2)
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime()
    ->MinTime(2);

}  // namespace

BENCHMARK_MAIN();
