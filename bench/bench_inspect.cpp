// The language forms of issue 13 at scale (default 1M people, 9.76M events): a 3-step event
// sequence within 14 days, the top 3 opportunities per account, the overlap of 50 person
// segments (1,225 pairs) and `why` for one person. Each result is checked once, outside the
// timed loop: the sequence and the top against `why` (the plan evaluated row by row with
// row_evaluator) on a sample of rows, every overlap pair against Roaring's and_cardinality,
// why's answer against the evaluated members.
//
//   B2BSEG_BENCH_PEOPLE=100000 build/bench/bench_inspect   # quick run
#include "common.hpp"

#include <b2bseg/b2bseg.hpp>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

namespace {

const b2bseg::timestamp_us as_of = [] {
  b2bseg::timestamp_us t = 0;
  b2bseg::parse_timestamp("2026-11-22T00:00:00Z", t);
  return t;
}();

const b2bseg::graph& loaded() {
  static const b2bseg::graph g = [] {
    const auto& d = bench::cached_dataset(bench::people_from_env());
    return b2bseg::load_dataset(d.dir);
  }();
  return g;
}

/// A file of bench/suite/.
std::string read(const std::string& name) {
  std::ifstream f(std::filesystem::path(__FILE__).parent_path() / "suite" / name);
  std::stringstream s;
  s << f.rdbuf();
  return s.str();
}

const char* const forms =
    "segment seq3 on person where events.sequence(timestamp, type = \"webinar.registered\" "
    "then type = \"webinar.attended\" then type = \"demo.requested\" within 14 days)\n"
    "segment top3 on opportunity where top(3, by amount desc, per account)\n";

/// Evaluates one segment of `forms` per iteration (its whole plan: the event scans and the
/// sequence or rank node), then checks a sample of rows against `why`.
void BM_form(benchmark::State& state, const std::string& name) {
  const b2bseg::graph& g = loaded();
  const b2bseg::bound_file f = b2bseg::compile_segments(forms, g.schema(), "forms.seg");
  bench::thread_cap cap(2);
  b2bseg::executor ex(g, 2);
  const auto sel = std::vector<std::uint32_t>{static_cast<std::uint32_t>(f.find(name))};
  Roaring members;
  for (auto _ : state) {
    b2bseg::evaluation ev = ex.run(b2bseg::build_plan(g.schema(), f, as_of, sel), f);
    members = std::move(ev.segments.back().members);
    benchmark::DoNotOptimize(members);
  }
  const b2bseg::entity_id e = f.segments[sel[0]].entity;
  std::size_t mismatches = 0;
  const std::size_t rows = g.rows(e), step = std::max<std::size_t>(1, rows / 2000);
  for (std::size_t r = 0; r < rows; r += step)
    mismatches +=
        b2bseg::explain_membership(g, f, sel[0], static_cast<b2bseg::row_id>(r), as_of).member !=
        members.contains(static_cast<std::uint32_t>(r));
  bench::check(state, name + ": rows where why and the kernel disagree", mismatches,
               std::size_t{0});
  bench::check_true(state, members.cardinality() > 0, name + " has members");
  state.counters["members"] = static_cast<double>(members.cardinality());
}

void BM_overlap50(benchmark::State& state) {
  const b2bseg::graph& g = loaded();
  const std::string text = read("b2bseg_1000.seg");
  const b2bseg::bound_file f = b2bseg::compile_segments(text, g.schema(), "b2bseg_1000.seg");
  const b2bseg::entity_id person = g.schema().find_entity("person");
  std::vector<std::string> names;
  for (const auto& s : f.segments)
    if (s.entity == person && names.size() < 50) names.push_back(s.name);
  const b2bseg::evaluation ev =
      b2bseg::evaluate(g, f, b2bseg::eval_options{.as_of = as_of, .threads = 2, .segments = names});
  std::vector<const Roaring*> sets;
  for (const auto& n : names)
    for (const auto& r : ev.segments)
      if (r.name == n) sets.push_back(&r.members);
  bench::thread_cap cap(2);
  tbb::task_arena arena(2);
  b2bseg::overlap_result o;
  for (auto _ : state) {
    arena.execute([&] { o = b2bseg::compute_overlap(g.rows(person), sets, names); });
    benchmark::DoNotOptimize(o);
  }
  std::size_t wrong = 0;
  for (const auto& p : o.pairs) wrong += p.count != sets[p.a]->and_cardinality(*sets[p.b]);
  bench::check(state, "pairs", o.pairs.size(), std::size_t{1225});
  bench::check(state, "pairs differing from and_cardinality", wrong, std::size_t{0});
}

void BM_why(benchmark::State& state) {
  const b2bseg::graph& g = loaded();
  const std::string text = read("b2bseg_suite.seg");
  const b2bseg::bound_file f = b2bseg::compile_segments(text, g.schema(), "b2bseg_suite.seg");
  const auto seg = static_cast<std::uint32_t>(f.find("q05_engaged_buying_committee"));
  const b2bseg::evaluation ev = b2bseg::evaluate(
      g, f, b2bseg::eval_options{.as_of = as_of, .threads = 2, .segments = {f.segments[seg].name}});
  const Roaring& members = ev.segments.back().members;
  const std::size_t rows = g.rows(f.segments[seg].entity);
  std::size_t i = 0, wrong = 0, asked = 0;
  for (auto _ : state) {
    const auto r = static_cast<b2bseg::row_id>((i++ * 7919) % rows);
    const b2bseg::why_result w = b2bseg::explain_membership(g, f, seg, r, as_of);
    wrong += w.member != members.contains(r);
    ++asked;
  }
  bench::check(state, "answers differing from eval", wrong, std::size_t{0});
  state.counters["asked"] = static_cast<double>(asked);
}

}  // namespace

int main(int argc, char** argv) {
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  bench::settle_malloc();
  benchmark::AddCustomContext("people", std::to_string(bench::people_from_env()));
  benchmark::RegisterBenchmark("sequence/3_steps_within_14_days", BM_form, std::string("seq3"))
      ->Unit(benchmark::kMillisecond)
      ->UseRealTime();
  benchmark::RegisterBenchmark("top/3_per_account", BM_form, std::string("top3"))
      ->Unit(benchmark::kMillisecond)
      ->UseRealTime();
  benchmark::RegisterBenchmark("overlap/50_segments", BM_overlap50)
      ->Unit(benchmark::kMillisecond)
      ->UseRealTime();
  benchmark::RegisterBenchmark("why/one_person", BM_why)->Unit(benchmark::kMicrosecond);
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
