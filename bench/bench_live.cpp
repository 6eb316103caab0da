// Live-path benchmark (issue 10): the whole bench suite loaded, batches of changes applied to a
// live_engine, timed from `apply` to the membership changes. Per-batch p50 and p99 are counters,
// with how many batches were incremental and how many compacted. Every run checks its result:
// after the timed batches, the current rows are built into a graph and each segment's members
// (carried over to that graph's ids) equal a fresh evaluation of it; every batch took a number.
// BM_full_evaluation is what re-evaluating everything after each batch costs at least (the
// kernels over an indexed graph, no rebuild): the ratio the issue asks for.
//
//   build/bench/bench_live                                  # 100k people (generated once)
//   B2BSEG_BENCH_PEOPLE=1000000 build/bench/bench_live      # the scale
#include <b2bseg/b2bseg.hpp>
#include <b2bseg/live/engine.hpp>

#include <malloc.h>

#include <algorithm>
#include <chrono>
#include <fstream>
#include <sstream>

#include "common.hpp"

namespace {

struct world {
  std::shared_ptr<const b2bseg::graph> g;
  std::shared_ptr<const b2bseg::bound_file> f;
  b2bseg::timestamp_us as_of = 0;
  std::vector<std::string> people, accounts, opportunities;
};

world& the_world() {
  static world* w = [] {
    auto* x = new world;
    const bench::dataset& d = bench::cached_dataset(bench::people_from_env(100000));
    x->g = std::make_shared<const b2bseg::graph>(b2bseg::load_dataset(d.dir));
    std::ifstream in(std::filesystem::path(__FILE__).parent_path() / "suite" / "b2bseg_suite.seg");
    std::stringstream ss;
    ss << in.rdbuf();
    x->f = std::make_shared<const b2bseg::bound_file>(
        b2bseg::compile_segments(ss.str(), x->g->schema(), "b2bseg_suite.seg"));
    b2bseg::parse_timestamp("2026-11-22T00:00:00Z", x->as_of);
    auto keys = [&](const char* entity, std::vector<std::string>& out) {
      const b2bseg::entity_id e = x->g->schema().find_entity(entity);
      for (b2bseg::row_id r = 0; r < x->g->rows(e); ++r) out.emplace_back(x->g->key(e, r));
    };
    keys("person", x->people);
    keys("account", x->accounts);
    keys("opportunity", x->opportunities);
    return x;
  }();
  return *w;
}

/// Changes of the mix: `events` of 100 event inserts, the rest person and account
/// upserts and opportunity deletes (each key deleted once).
class change_mix {
 public:
  explicit change_mix(const b2bseg::schema& s, const world& w) : w_(w) {
    event_ = s.find_entity("event");
    person_ = s.find_entity("person");
    account_ = s.find_entity("account");
    opportunity_ = s.find_entity("opportunity");
    b2bseg::row_layout layout(s);
    ev_person_ = static_cast<std::uint32_t>(layout.entities[event_].find("person_id"));
    ev_type_ = static_cast<std::uint32_t>(layout.entities[event_].find("type"));
    ev_ts_ = static_cast<std::uint32_t>(layout.entities[event_].find("timestamp"));
    p_key_ = static_cast<std::uint32_t>(layout.entities[person_].key);
    p_score_ = static_cast<std::uint32_t>(layout.entities[person_].find("lead_score"));
    a_key_ = static_cast<std::uint32_t>(layout.entities[account_].key);
    a_employees_ = static_cast<std::uint32_t>(layout.entities[account_].find("employees"));
  }

  b2bseg::change event_insert(b2bseg::timestamp_us now) {
    b2bseg::change c;
    c.op = b2bseg::change_op::insert;
    c.entity = event_;
    c.fields = {{ev_person_, pick(w_.people)},
                {ev_type_, "web.pageview"},
                {ev_ts_, b2bseg::format_timestamp(now - 3'600'000'000LL)}};
    return c;
  }

  /// `n` changes: 80% event inserts, 15% person or account upserts, 5% deletes.
  std::vector<b2bseg::change> batch(std::size_t n, b2bseg::timestamp_us now) {
    std::vector<b2bseg::change> out;
    for (std::size_t i = 0; i < n; ++i) {
      const auto p = next() % 100;
      if (p < 80) {
        out.push_back(event_insert(now));
      } else if (p < 95) {
        b2bseg::change c;
        c.op = b2bseg::change_op::upsert;
        if (p < 88) {
          c.entity = person_;
          c.key = pick(w_.people);
          c.fields = {{p_key_, c.key}, {p_score_, std::to_string(next() % 100)}};
        } else {
          c.entity = account_;
          c.key = pick(w_.accounts);
          c.fields = {{a_key_, c.key}, {a_employees_, std::to_string(next() % 20000)}};
        }
        out.push_back(std::move(c));
      } else if (deleted_ < w_.opportunities.size()) {
        b2bseg::change c;
        c.op = b2bseg::change_op::erase;
        c.entity = opportunity_;
        c.key = w_.opportunities[deleted_++];
        out.push_back(std::move(c));
      }
    }
    return out;
  }

 private:
  std::uint64_t next() {
    s_ = s_ * 6364136223846793005ULL + 1442695040888963407ULL;
    return s_ >> 17;
  }
  const std::string& pick(const std::vector<std::string>& v) { return v[next() % v.size()]; }

  const world& w_;
  std::uint64_t s_ = 12345;
  std::size_t deleted_ = 0;
  b2bseg::entity_id event_, person_, account_, opportunity_;
  std::uint32_t ev_person_, ev_type_, ev_ts_, p_key_, p_score_, a_key_, a_employees_;
};

/// The members equal a fresh evaluation of the current rows built into a graph.
bool check_state(benchmark::State& state, const b2bseg::live_engine& eng, std::uint64_t batches) {
  if (!bench::check(state, "batches", eng.current()->batch, batches)) return false;
  const b2bseg::live_snapshot m = eng.materialize();
  const auto ev =
      b2bseg::evaluate(m.data, eng.segments(), {.as_of = m.now, .threads = 0, .segments = {}});
  for (const auto& r : ev.segments) {
    const auto& live = m.segments[static_cast<std::size_t>(eng.segments().find(r.name))];
    if (!bench::check_true(state, live.members == r.members, r.name + " members")) return false;
  }
  return true;
}

void percentiles(benchmark::State& state, std::vector<double> ms) {
  std::sort(ms.begin(), ms.end());
  if (ms.empty()) return;
  state.counters["p50_ms"] = ms[ms.size() / 2];
  state.counters["p99_ms"] = ms[std::min(ms.size() - 1, ms.size() * 99 / 100)];
}

/// One batch an iteration, each built (untimed) by `make(mix, batch_index)`, applied to a fresh
/// engine; p50 and p99 of the time each `apply` reports; then the published state is checked.
/// Returns the number of batches applied.
template <class Make>
std::uint64_t run_batches(benchmark::State& state, Make make) {
  world& w = the_world();
  b2bseg::live_engine eng(w.g, w.f, {.as_of = w.as_of, .lenient = false, .threads = 2});
  change_mix mix(eng.schema(), w);
  std::vector<double> ms;
  std::uint64_t batches = 0;
  for (auto _ : state) {
    state.PauseTiming();
    const std::vector<b2bseg::change> batch = make(mix, batches);
    state.ResumeTiming();
    ms.push_back(eng.apply(batch).ms);
    ++batches;
  }
  percentiles(state, ms);
  state.counters["incremental"] = static_cast<double>(eng.stats().incremental);
  state.counters["compactions"] = static_cast<double>(eng.stats().compactions);
  state.counters["rows_evaluated"] = static_cast<double>(eng.stats().rows_evaluated);
  state.counters["full_nodes"] = static_cast<double>(eng.stats().full_nodes);
  check_state(state, eng, batches);
  return batches;
}

void BM_one_event_insert(benchmark::State& state) {
  const auto as_of = the_world().as_of;
  run_batches(state, [&](change_mix& mix, std::uint64_t) {
    return std::vector<b2bseg::change>{mix.event_insert(as_of)};
  });
}
BENCHMARK(BM_one_event_insert)->Iterations(20)->Unit(benchmark::kMillisecond)->UseRealTime();

void BM_mixed_batch_1000(benchmark::State& state) {
  const auto as_of = the_world().as_of;
  const auto batches =
      run_batches(state, [&](change_mix& mix, std::uint64_t) { return mix.batch(1000, as_of); });
  state.counters["changes_per_s"] =
      benchmark::Counter(1000.0 * static_cast<double>(batches), benchmark::Counter::kIsRate);
}
BENCHMARK(BM_mixed_batch_1000)->Iterations(100)->Unit(benchmark::kMillisecond)->UseRealTime();

void BM_one_hour_tick(benchmark::State& state) {
  const auto as_of = the_world().as_of;
  run_batches(state, [&](change_mix&, std::uint64_t i) {
    b2bseg::change tick;
    tick.op = b2bseg::change_op::tick;
    tick.now = as_of + static_cast<b2bseg::timestamp_us>(i + 1) * 3'600'000'000LL;
    return std::vector<b2bseg::change>{tick};
  });
}
BENCHMARK(BM_one_hour_tick)->Iterations(20)->Unit(benchmark::kMillisecond)->UseRealTime();

/// The heap the delta costs per row it holds: bytes in use (glibc's `mallinfo2`) after 20
/// batches of 1,000 mixed changes, minus after the engine was built, over the rows the delta
/// holds then (rows added, rows changed). Room reserved at compaction (an eighth more rows in
/// the row store, the parent arrays and the node sets) is part of the engine's base cost and is
/// not counted here.
void BM_delta_memory(benchmark::State& state) {
  world& w = the_world();
  const auto as_of = w.as_of;
  for (auto _ : state) {
    b2bseg::live_engine eng(w.g, w.f, {.as_of = as_of, .lenient = false, .threads = 2});
    change_mix mix(eng.schema(), w);
    const std::size_t before = mallinfo2().uordblks;
    for (int b = 0; b < 20; ++b) eng.apply(mix.batch(1000, as_of));
    const std::size_t after = mallinfo2().uordblks;
    const double rows = static_cast<double>(eng.delta_rows());
    state.counters["delta_rows"] = rows;
    state.counters["bytes_per_delta_row"] =
        (static_cast<double>(after) - static_cast<double>(before)) / rows;
    bench::check_true(state, eng.stats().compactions == 0 && rows >= 10000, "an uncompacted delta");
    check_state(state, eng, 20);
  }
}
BENCHMARK(BM_delta_memory)->Iterations(1)->Unit(benchmark::kMillisecond)->UseRealTime();

/// Every segment evaluated over the loaded graph: the least a full re-evaluation after each
/// batch costs (a rebuild of the graph would come on top).
void BM_full_evaluation(benchmark::State& state) {
  world& w = the_world();
  b2bseg::executor ex(*w.g, 2);
  std::uint64_t members = 0;
  std::vector<double> ms;
  for (auto _ : state) {
    const auto t0 = std::chrono::steady_clock::now();
    const auto ev = ex.run(b2bseg::build_plan(w.g->schema(), *w.f, w.as_of), *w.f);
    ms.push_back(
        std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count());
    members = 0;
    for (const auto& r : ev.segments) members += r.members.cardinality();
  }
  percentiles(state, ms);
  const auto once = b2bseg::evaluate(*w.g, *w.f, {.as_of = w.as_of, .threads = 1, .segments = {}});
  std::uint64_t want = 0;
  for (const auto& r : once.segments) want += r.members.cardinality();
  bench::check(state, "members", members, want);
}
BENCHMARK(BM_full_evaluation)->Iterations(10)->Unit(benchmark::kMillisecond)->UseRealTime();

}  // namespace

BENCHMARK_MAIN();
