// Live-path benchmark (issue 10): the whole bench suite loaded, batches of changes applied to a
// live_engine, timed from `apply` to the membership changes. Per-batch p50 and p99 are counters,
// with how many batches were incremental and how many compacted. Every run checks its result:
// after the timed batches, the current rows are built into a graph and each segment's members
// (carried over to that graph's ids) equal a fresh evaluation of it; every batch took a number.
// BM_full_evaluation is what re-evaluating everything after each batch costs at least (the
// kernels over an indexed graph, no rebuild): the ratio the issue asks for.
//
//   build/bench/bench_live                                  # 100k people (generated once)
//   B2BSEG_BENCH_PEOPLE=1000000 build/bench/bench_live      # the issue's scale
#include <b2bseg/b2bseg.hpp>
#include <b2bseg/gen/sources.hpp>
#include <b2bseg/live/engine.hpp>
#include <b2bseg/live/feed.hpp>

#include <malloc.h>

#include <algorithm>
#include <cctype>
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

/// The benchmarks' random numbers: a 64-bit LCG, its high bits (same seed, same changes).
class lcg {
 public:
  explicit lcg(std::uint64_t seed) : s_(seed) {}
  std::uint64_t next() {
    s_ = s_ * 6364136223846793005ULL + 1442695040888963407ULL;
    return s_ >> 17;
  }
  const std::string& pick(const std::vector<std::string>& v) { return v[next() % v.size()]; }

 private:
  std::uint64_t s_;
};

/// Changes of the issue's mix: `events` of 100 event inserts, the rest person and account
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
  std::uint64_t next() { return r_.next(); }
  const std::string& pick(const std::vector<std::string>& v) { return r_.pick(v); }

  const world& w_;
  lcg r_{12345};
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
  state.counters["max_ms"] = ms.back();
}

/// One batch an iteration, each built (untimed) by `make(mix, batch_index)`, applied to a fresh
/// engine (given to `setup` first); p50 and p99 of the time each `apply` reports; then the
/// published state is checked.
/// Returns the number of batches applied.
template <class Make, class Setup = void (*)(b2bseg::live_engine&)>
std::uint64_t run_batches(
    benchmark::State& state, Make make, Setup setup = [](b2bseg::live_engine&) {}) {
  world& w = the_world();
  b2bseg::live_engine eng(w.g, w.f, {.as_of = w.as_of, .lenient = false, .threads = 2});
  setup(eng);
  change_mix mix(eng.schema(), w);
  std::vector<double> ms;
  std::uint64_t batches = 0;
  double slowest_incremental = 0;  // the slowest batch that did not compact
  for (auto _ : state) {
    state.PauseTiming();
    const std::vector<b2bseg::change> batch = make(mix, batches);
    const std::uint64_t compactions = eng.stats().compactions;
    state.ResumeTiming();
    ms.push_back(eng.apply(batch).ms);
    if (eng.stats().compactions == compactions)
      slowest_incremental = std::max(slowest_incremental, ms.back());
    ++batches;
  }
  percentiles(state, ms);
  state.counters["max_incremental_ms"] = slowest_incremental;
  state.counters["incremental"] = static_cast<double>(eng.stats().incremental);
  state.counters["compactions"] = static_cast<double>(eng.stats().compactions);
  state.counters["rows_evaluated"] = static_cast<double>(eng.stats().rows_evaluated);
  state.counters["counted_rows"] = static_cast<double>(eng.stats().counted_rows);
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

/// Batches of 1,000 mixed changes, one an iteration; `changes_per_s` over all of them.
void BM_mixed_batch_1000(benchmark::State& state) {
  const auto as_of = the_world().as_of;
  const auto batches =
      run_batches(state, [&](change_mix& mix, std::uint64_t) { return mix.batch(1000, as_of); });
  state.counters["changes_per_s"] =
      benchmark::Counter(1000.0 * static_cast<double>(batches), benchmark::Counter::kIsRate);
}
BENCHMARK(BM_mixed_batch_1000)->Iterations(100)->Unit(benchmark::kMillisecond)->UseRealTime();

// The same, 2,000 batches: enough for the delta to pass an eighth of the rows at 1M people
// (about 1,900 batches), so `changes_per_s` includes the compactions that a stream pays for,
// amortized (`max_ms` is one).
BENCHMARK(BM_mixed_batch_1000)
    ->Name("BM_sustained_mixed_1000")
    ->Iterations(2000)
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();

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

/// A one-hour tick late in a compaction cycle: mixed batches of 1,000 (untimed) first grow the
/// delta to nine tenths of the compaction bound (an eighth of the rows: at 1M people about 1.7M
/// rows, 1,700 batches), then 20 ticks are timed. A tick finds the base rows that cross a
/// window edge through the time index made at compaction; the delta's rows are what it must
/// find otherwise. `rows_evaluated` and `indexed_scans` count the ticks' work only.
void BM_one_hour_tick_late(benchmark::State& state) {
  world& w = the_world();
  b2bseg::live_engine eng(w.g, w.f, {.as_of = w.as_of, .lenient = false, .threads = 2});
  change_mix mix(eng.schema(), w);
  std::size_t rows = 0;
  for (b2bseg::entity_id e = 0; e < w.g->schema().entities.size(); ++e) rows += w.g->rows(e);
  const std::size_t grown = std::max<std::size_t>(1024, rows / 8) * 9 / 10;
  std::uint64_t batches = 0;
  while (eng.delta_rows() + 2000 < grown) {
    eng.apply(mix.batch(1000, w.as_of));
    ++batches;
  }
  const auto before = eng.stats();
  std::vector<double> ms;
  for (auto _ : state) {
    b2bseg::change tick;
    tick.op = b2bseg::change_op::tick;
    tick.now = w.as_of + static_cast<b2bseg::timestamp_us>(ms.size() + 1) * 3'600'000'000LL;
    ms.push_back(eng.apply(std::vector<b2bseg::change>{tick}).ms);
    ++batches;
  }
  percentiles(state, ms);
  const auto after = eng.stats();
  state.counters["delta_rows"] = static_cast<double>(eng.delta_rows());
  state.counters["rows_evaluated"] =
      static_cast<double>(after.rows_evaluated - before.rows_evaluated);
  state.counters["indexed_scans"] = static_cast<double>(after.indexed_scans - before.indexed_scans);
  bench::check_true(state, after.compactions == 0, "no compaction");
  check_state(state, eng, batches);
}
BENCHMARK(BM_one_hour_tick_late)->Iterations(20)->Unit(benchmark::kMillisecond)->UseRealTime();

/// A batch of 1,000 mixed changes that compacts: the rows rebuilt into a graph, every segment
/// evaluated in full and the engine's aids rebuilt (what a batch costs once the delta has grown
/// past an eighth of the rows).
void BM_compacting_batch(benchmark::State& state) {
  const auto as_of = the_world().as_of;
  run_batches(
      state, [&](change_mix& mix, std::uint64_t) { return mix.batch(1000, as_of); },
      [](b2bseg::live_engine& eng) { eng.set_compact_after(1); });
}
BENCHMARK(BM_compacting_batch)->Iterations(3)->Unit(benchmark::kMillisecond)->UseRealTime();

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

// --- changes to an entity with sources ---------------------------------------------------------

/// The world of `generate --sources` (a Salesforce org's and two Marketo instances' exports of the
/// same people) at the bench's scale, datasets/demo.seg over it, and the ids its source rows hold.
struct source_world {
  std::shared_ptr<const b2bseg::graph> g;
  std::shared_ptr<const b2bseg::bound_file> f;
  std::string dir;
  b2bseg::timestamp_us as_of = 0;
  std::vector<std::string> leads, contacts, contact_emails;
};

/// The first and the `col`-th (0-based) column of every line of CSV file `path` after its header
/// (the generator's ids and emails hold no quotes or commas).
void read_columns(const std::filesystem::path& path, std::size_t col,
                  std::vector<std::string>& first, std::vector<std::string>* other) {
  std::ifstream in(path);
  std::string line;
  std::getline(in, line);
  while (std::getline(in, line)) {
    first.push_back(line.substr(0, line.find(',')));
    if (!other) continue;
    std::size_t at = 0;
    for (std::size_t c = 0; c < col; ++c) at = line.find(',', at) + 1;
    other->push_back(line.substr(at, line.find(',', at) - at));
  }
}

source_world& the_source_world() {
  static source_world* w = [] {
    namespace fs = std::filesystem;
    auto* x = new source_world;
    const std::uint64_t people = bench::people_from_env(100000);
    const fs::path dir = bench::data_root() / ("live-sources-" + std::to_string(people));
    x->dir = dir.string();
    if (!fs::exists(dir / "done")) {
      std::fprintf(stderr, "bench: generating %llu people from sources into %s ...\n",
                   static_cast<unsigned long long>(people), x->dir.c_str());
      b2bseg::generate_sources_dataset(
          x->dir, b2bseg::generate_options{.people = people, .seed = bench::dataset_seed});
      std::ofstream(dir / "done") << "done\n";
    }
    x->g = std::make_shared<const b2bseg::graph>(b2bseg::load_dataset(x->dir));
    std::ifstream in(fs::path(__FILE__).parent_path().parent_path() / "datasets" / "demo.seg");
    std::stringstream ss;
    ss << in.rdbuf();
    x->f = std::make_shared<const b2bseg::bound_file>(
        b2bseg::compile_segments(ss.str(), x->g->schema(), "demo.seg"));
    b2bseg::parse_timestamp("2026-11-22T00:00:00Z", x->as_of);
    read_columns(dir / "marketo_na" / "leads.csv", 0, x->leads, nullptr);
    read_columns(dir / "salesforce" / "Contact.csv", 4, x->contacts, &x->contact_emails);
    return x;
  }();
  return *w;
}

/// `n` source changes as feed lines: 60% Marketo lead updates (score, status), 20% Salesforce
/// contact updates (seniority, opt-out), 10% new Marketo leads carrying a contact's email in
/// upper case (they merge into that contact's profile), 10% new leads of nobody known (a profile
/// each). Parsed outside the timed region.
class source_mix {
 public:
  explicit source_mix(const source_world& w) : w_(w) {}
  std::vector<std::string> batch(std::size_t n) {
    static const char* levels[] = {"VP", "Director", "Manager", "C-Level", "Staff"};
    static const char* statuses[] = {"New", "Working", "MQL", "Disqualified", "Nurturing"};
    std::vector<std::string> out;
    for (std::size_t i = 0; i < n; ++i) {
      const auto p = next() % 100;
      std::string s;
      if (p < 60) {
        s = R"({"op": "upsert", "entity": "person", "source": "marketo_na", "row": {"id": ")" +
            pick(w_.leads) + R"(", "leadScore": ")" + std::to_string(next() % 100) +
            R"(", "leadStatus": ")" + statuses[next() % 5] + "\"}}";
      } else if (p < 80) {
        s = R"({"op": "upsert", "entity": "person", "source": "salesforce_contact", "row": {"Id": ")" +
            pick(w_.contacts) + R"(", "Seniority__c": ")" + levels[next() % 5] +
            R"(", "HasOptedOutOfEmail": ")" + (next() % 2 ? "true" : "false") + "\"}}";
      } else {
        std::string email;
        if (p < 90) {
          email = w_.contact_emails[next() % w_.contact_emails.size()];
          for (char& c : email) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
        } else {
          email = "new" + std::to_string(fresh_) + "@nobody.example";
        }
        s = R"({"op": "upsert", "entity": "person", "source": "marketo_na", "row": {"id": "na-b)" +
            std::to_string(fresh_++) + R"(", "email": ")" + email + R"(", "leadScore": "50"}})";
      }
      out.push_back(std::move(s));
    }
    return out;
  }

 private:
  std::uint64_t next() { return r_.next(); }
  const std::string& pick(const std::vector<std::string>& v) { return r_.pick(v); }
  const source_world& w_;
  lcg r_{777};
  std::uint64_t fresh_ = 0;
};

/// Batches of 1,000 source changes, each re-resolving the profiles it touches; p50 and p99 of
/// `apply`, changes/s; then the members are checked against a fresh evaluation of the rows built
/// into a graph.
void BM_source_batch_1000(benchmark::State& state) {
  source_world& w = the_source_world();
  b2bseg::live_engine eng(w.g, w.f, {.as_of = w.as_of, .threads = 2, .dataset = w.dir});
  b2bseg::change_parser parser(eng.schema());
  source_mix mix(w);
  std::vector<double> ms;
  std::uint64_t batches = 0;
  for (auto _ : state) {
    state.PauseTiming();
    std::vector<b2bseg::change> batch;
    std::size_t line = 0;
    for (const std::string& text : mix.batch(1000)) {
      auto parsed = parser.parse(text, ++line);
      if (auto* e = std::get_if<b2bseg::change_error>(&parsed)) {
        state.SkipWithError((text + ": " + e->message).c_str());
        return;
      }
      batch.push_back(std::move(std::get<b2bseg::change>(parsed)));
    }
    state.ResumeTiming();
    const b2bseg::batch_result r = eng.apply(batch);
    if (r.failed()) {
      state.SkipWithError(r.errors.empty() ? "a batch failed" : r.errors[0].message.c_str());
      return;
    }
    ms.push_back(r.ms);
    ++batches;
  }
  percentiles(state, ms);
  state.counters["changes_per_s"] =
      benchmark::Counter(1000.0 * static_cast<double>(batches), benchmark::Counter::kIsRate);
  state.counters["compactions"] = static_cast<double>(eng.stats().compactions);
  check_state(state, eng, batches);
}
BENCHMARK(BM_source_batch_1000)->Iterations(50)->Unit(benchmark::kMillisecond)->UseRealTime();

}  // namespace

BENCHMARK_MAIN();
