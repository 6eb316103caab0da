// Kernel benchmarks of the executor, at 1M and 10M ids, with 1 and 2 threads:
//   - predicate leaves (eval_scan): string equality (value bitmap), `in` of 3 values, int range,
//     timestamp range, like on a dictionary; over person (1M rows) and event (~10M rows) of the
//     generated dataset (default 1M people, seed 42, cached under bench/data/<N>/);
//   - and / or / andnot over sparse (0.1%), dense (50%) and run-heavy sets of 1M and 10M ids: the
//     flat bitset (clone + word kernels split over threads, as the executor does) against
//     CRoaring's roaring_bitmap_and/or/andnot on the same ids (single-threaded by nature);
//   - to-one traversal (eval_to_one), reverse count on a clustered and a non-clustered link
//     (eval_rev_count), aggregate per parent (eval_rev_aggregate), and the event-window filter
//     `type = X and timestamp within last 90 days` over all events.
// Every benchmark compares its last result, bit for bit, with one computed once by a plain loop
// over the columns (or, for set algebra, std::set_* over sorted id vectors); a mismatch fails it.
//
//   B2BSEG_BENCH_PEOPLE=100000 build-bench/bench/bench_kernels   # quick run on 100k people
#include "common.hpp"

#include <b2bseg/b2bseg.hpp>

#include <algorithm>
#include <cstdio>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <random>
#include <tuple>
#include <string>
#include <vector>

namespace {

using b2bseg::bitset;
using b2bseg::entity_id;
using b2bseg::row_id;

constexpr std::int64_t day_us = 86400LL * 1000000;
constexpr std::int64_t as_of = b2bseg::default_generate_as_of;  // the generator's "now"

// ---- the graph and plain-loop helpers -----------------------------------------------------------

const b2bseg::graph& the_graph() {
  static std::optional<b2bseg::graph> g;
  if (!g) {
    const bench::dataset& d = bench::cached_dataset(bench::people_from_env());
    auto t0 = std::chrono::steady_clock::now();
    g.emplace(b2bseg::load_dataset(d.dir));
    std::fprintf(stderr, "bench: loaded %s in %.1f s (person %zu rows, event %zu rows)\n", d.dir.c_str(),
                 std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count(),
                 g->rows(g->schema().find_entity("person")), g->rows(g->schema().find_entity("event")));
  }
  return *g;
}

entity_id entity(const char* name) {
  entity_id e = the_graph().schema().find_entity(name);
  if (e == b2bseg::no_entity) throw std::runtime_error(std::string("no entity ") + name);
  return e;
}
std::uint32_t attribute(entity_id e, const char* name) {
  int a = the_graph().schema().entities[e].find_attribute(name);
  if (a < 0) throw std::runtime_error(std::string("no attribute ") + name);
  return static_cast<std::uint32_t>(a);
}
std::uint32_t link(entity_id e, const char* name) {
  int l = the_graph().schema().entities[e].find_link(name);
  if (l < 0) throw std::runtime_error(std::string("no link ") + name);
  return static_cast<std::uint32_t>(l);
}

// Null flags of a column, one byte per row, by walking its Roaring bitmap.
std::vector<char> null_flags(const b2bseg::column& c) {
  std::vector<char> f(c.size(), 0);
  for (std::uint32_t r : c.nulls()) f[r] = 1;
  return f;
}

// The rows r < n with pred(r), as a bitset built one bit at a time.
template <class Pred>
bitset rows_where(std::size_t n, Pred&& pred) {
  bitset b(n);
  for (std::size_t r = 0; r < n; ++r)
    if (pred(r)) b.set(r);
  return b;
}

// A random set of about half the ids (fixed seed).
bitset random_half(std::size_t n, std::uint64_t seed) {
  std::mt19937_64 rng(seed);
  return rows_where(n, [&](std::size_t) { return (rng() & 1) != 0; });
}

b2bseg::literal str_lit(const char* s) {
  b2bseg::literal l;
  l.type = b2bseg::value_type::string;
  l.s = s;
  return l;
}
b2bseg::literal int_lit(std::int64_t v) {
  b2bseg::literal l;
  l.type = b2bseg::value_type::integer;
  l.i = v;
  l.f = static_cast<double>(v);
  return l;
}
b2bseg::literal ts_lit(std::int64_t t) {
  b2bseg::literal l;
  l.type = b2bseg::value_type::timestamp;
  l.t = t;
  return l;
}
b2bseg::literal float_lit(double v) {
  b2bseg::literal l;
  l.type = b2bseg::value_type::floating;
  l.f = v;
  return l;
}

// ---- the common benchmark body --------------------------------------------------------------

// A kernel case: what to run, and the expected result, computed once by a plain loop.
struct kernel_case {
  std::function<bitset()> run;
  bitset expected;
  std::size_t ids = 0;  // ids the kernel goes over (rows of the scanned or produced side)
  std::string label;
};

// Runs `c.run` under a thread cap; checks its last result against `c.expected`.
void run_case(benchmark::State& state, const kernel_case& c) {
  const bench::thread_cap cap(static_cast<std::size_t>(state.range(0)));
  bitset out;
  for (auto _ : state) {
    out = c.run();
    benchmark::DoNotOptimize(out.words());
    benchmark::ClobberMemory();
  }
  if (!bench::check(state, "result size", out.size(), c.expected.size())) return;
  if (!bench::check(state, "result count", out.count(), c.expected.count())) return;
  if (!bench::check_true(state, out == c.expected, "result equals the plain-loop reference")) return;
  state.counters["ids/s"] = bench::rate(static_cast<double>(c.ids), state);
  state.counters["hits"] = static_cast<double>(c.expected.count());
  state.SetLabel(c.label);
}

// Registers `name` with threads 1 and 2; the case is built (and its reference computed) on the
// first run, so that filtered-out benchmarks cost nothing.
void register_case(const std::string& name, std::function<kernel_case()> make) {
  auto holder = std::make_shared<std::optional<kernel_case>>();
  benchmark::RegisterBenchmark(name.c_str(),
                               [holder, make](benchmark::State& state) {
                                 if (!*holder) {
                                   try {
                                     holder->emplace(make());
                                   } catch (const std::exception& x) {
                                     state.SkipWithError(x.what());
                                     return;
                                   }
                                 }
                                 run_case(state, **holder);
                               })
      ->ArgName("threads")
      ->Arg(1)
      ->Arg(2)
      ->UseRealTime()
      ->Unit(benchmark::kMillisecond);
}

// ---- predicate leaves -------------------------------------------------------------------------

// A scan of `ent.attr` with predicate `p`, and its reference `ref(column, row)` (nulls excluded
// by the caller's lambda through the flags given).
kernel_case scan_case(const char* ent, const char* attr, b2bseg::scan_pred p,
                      std::function<bool(const b2bseg::column&, row_id)> ref, std::string label) {
  const b2bseg::graph& g = the_graph();
  const entity_id e = entity(ent);
  p.attribute = attribute(e, attr);
  const b2bseg::column& c = g.attribute(e, p.attribute);
  const std::size_t n = g.rows(e);
  const std::vector<char> nulls = null_flags(c);
  kernel_case k;
  k.expected = rows_where(n, [&](std::size_t r) { return !nulls[r] && ref(c, row_id(r)); });
  k.ids = n;
  k.label = std::string(ent) + "." + attr + " " + label + " (" + std::to_string(n) + " rows, dict " +
            std::to_string(c.dictionary().size()) + ")";
  k.run = [&g, e, p] { return b2bseg::detail::eval_scan(g, e, p); };
  return k;
}

b2bseg::scan_pred pred(b2bseg::scan_pred::kind k, std::vector<b2bseg::literal> values,
                       b2bseg::cmp_op op = b2bseg::cmp_op::eq) {
  b2bseg::scan_pred p;
  p.k = k;
  p.op = op;
  p.values = std::move(values);
  return p;
}

void register_scans() {
  using K = b2bseg::scan_pred::kind;
  auto str_eq = [](std::string v) {
    return [v](const b2bseg::column& c, row_id r) { return c.string_at(r) == v; };
  };
  auto str_in = [](std::vector<std::string> vs) {
    return [vs](const b2bseg::column& c, row_id r) {
      return std::find(vs.begin(), vs.end(), c.string_at(r)) != vs.end();
    };
  };
  auto contains = [](std::string v) {
    return [v](const b2bseg::column& c, row_id r) { return c.string_at(r).find(v) != std::string_view::npos; };
  };
  auto int_between = [](std::int64_t lo, std::int64_t hi) {
    return [lo, hi](const b2bseg::column& c, row_id r) { return lo <= c.ints()[r] && c.ints()[r] <= hi; };
  };
  const std::int64_t d90 = as_of - 90 * day_us, d365 = as_of - 365 * day_us;

  // 1M rows (person).
  register_case("scan_eq_bitmap/person.seniority", [=] {
    return scan_case("person", "seniority", pred(K::compare, {str_lit("VP")}), str_eq("VP"), "= \"VP\"");
  });
  register_case("scan_in3/person.seniority", [=] {
    return scan_case("person", "seniority", pred(K::in_list, {str_lit("VP"), str_lit("C-Level"), str_lit("Director")}),
                     str_in({"VP", "C-Level", "Director"}), "in (VP, C-Level, Director)");
  });
  register_case("scan_int_range/person.lead_score", [=] {
    return scan_case("person", "lead_score", pred(K::between, {int_lit(50), int_lit(80)}), int_between(50, 80),
                     "between 50 and 80");
  });
  register_case("scan_ts_range/person.created_at", [=] {
    return scan_case("person", "created_at", pred(K::between, {ts_lit(d365), ts_lit(as_of)}), int_between(d365, as_of),
                     "within last 365 days");
  });
  register_case("scan_like/person.job_title", [=] {
    return scan_case("person", "job_title", pred(K::like, {str_lit("%Manager%")}), contains("Manager"),
                     "like \"%Manager%\"");
  });
  // ~10M rows (event).
  register_case("scan_eq_bitmap/event.type", [=] {
    return scan_case("event", "type", pred(K::compare, {str_lit("webinar.attended")}), str_eq("webinar.attended"),
                     "= \"webinar.attended\"");
  });
  register_case("scan_in3/event.type", [=] {
    return scan_case("event", "type",
                     pred(K::in_list, {str_lit("email.open"), str_lit("email.click"), str_lit("form.submit")}),
                     str_in({"email.open", "email.click", "form.submit"}), "in (email.open, email.click, form.submit)");
  });
  register_case("scan_ts_range/event.timestamp", [=] {
    return scan_case("event", "timestamp", pred(K::between, {ts_lit(d90), ts_lit(as_of)}), int_between(d90, as_of),
                     "within last 90 days");
  });
  register_case("scan_like/event.url", [=] {
    return scan_case("event", "url", pred(K::like, {str_lit("%/pricing%")}), contains("/pricing"), "like \"%/pricing%\"");
  });
}

// ---- set algebra: flat bitset vs CRoaring -------------------------------------------------------

struct roaring_deleter {
  void operator()(roaring_bitmap_t* r) const noexcept { roaring_bitmap_free(r); }
};
using roaring_ptr = std::unique_ptr<roaring_bitmap_t, roaring_deleter>;

enum class density { sparse, dense, runs };
enum class setop { and_, or_, andnot };
const char* name_of(density d) { return d == density::sparse ? "sparse" : d == density::dense ? "dense" : "runs"; }
const char* name_of(setop o) { return o == setop::and_ ? "and" : o == setop::or_ ? "or" : "andnot"; }

// Sorted distinct ids < n: sparse 0.1% uniform, dense 50% uniform, or runs (alternating runs of
// ones and zeros of random lengths 1..4000, about 50%).
std::vector<std::uint32_t> make_ids(std::size_t n, density d, std::uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::vector<std::uint32_t> ids;
  switch (d) {
    case density::sparse: {
      std::uniform_int_distribution<std::uint32_t> any(0, static_cast<std::uint32_t>(n - 1));
      for (std::size_t i = 0; i < n / 1000; ++i) ids.push_back(any(rng));
      std::sort(ids.begin(), ids.end());
      ids.erase(std::unique(ids.begin(), ids.end()), ids.end());
      break;
    }
    case density::dense:
      for (std::size_t i = 0; i < n; ++i)
        if (rng() & 1) ids.push_back(static_cast<std::uint32_t>(i));
      break;
    case density::runs: {
      std::uniform_int_distribution<std::size_t> len(1, 4000);
      std::size_t i = len(rng);
      while (i < n) {
        std::size_t end = std::min(n, i + len(rng));
        for (; i < end; ++i) ids.push_back(static_cast<std::uint32_t>(i));
        i += len(rng);
      }
      break;
    }
  }
  return ids;
}

struct set_pair {
  std::size_t n = 0;
  bitset a, b, expected;  // expected: a op b
  roaring_ptr ra, rb, rexpected;
};

const set_pair& set_data(std::size_t n, density d, setop op) {
  static std::map<std::tuple<std::size_t, int, int>, std::unique_ptr<set_pair>> cache;
  auto& slot = cache[{n, int(d), int(op)}];
  if (slot) return *slot;
  auto p = std::make_unique<set_pair>();
  p->n = n;
  const auto ia = make_ids(n, d, 1000 + n), ib = make_ids(n, d, 2000 + n);
  std::vector<std::uint32_t> ie;
  switch (op) {
    case setop::and_:
      std::set_intersection(ia.begin(), ia.end(), ib.begin(), ib.end(), std::back_inserter(ie));
      break;
    case setop::or_:
      std::set_union(ia.begin(), ia.end(), ib.begin(), ib.end(), std::back_inserter(ie));
      break;
    case setop::andnot:
      std::set_difference(ia.begin(), ia.end(), ib.begin(), ib.end(), std::back_inserter(ie));
      break;
  }
  auto flat = [n](const std::vector<std::uint32_t>& ids) {
    bitset b(n);
    for (auto i : ids) b.set(i);
    return b;
  };
  // The Roaring side is built with CRoaring's own functions, run-optimized (as the store keeps it).
  auto roar = [](const std::vector<std::uint32_t>& ids) {
    roaring_ptr r(roaring_bitmap_of_ptr(ids.size(), ids.data()));
    roaring_bitmap_run_optimize(r.get());
    return r;
  };
  p->a = flat(ia);
  p->b = flat(ib);
  p->expected = flat(ie);
  p->ra = roar(ia);
  p->rb = roar(ib);
  p->rexpected = roar(ie);
  slot = std::move(p);
  return *slot;
}

// The executor's and_/or_ node: clone the first input, then combine word ranges in parallel.
void BM_setop_flat(benchmark::State& state, std::size_t n, density d, setop op) {
  const bench::thread_cap cap(static_cast<std::size_t>(state.range(0)));
  const set_pair& p = set_data(n, d, op);
  bitset out;
  for (auto _ : state) {
    out = p.a.clone();
    b2bseg::detail::parallel_words(n, [&](std::size_t w0, std::size_t w1) {
      switch (op) {
        case setop::and_: out.and_with(p.b, w0, w1); break;
        case setop::or_: out.or_with(p.b, w0, w1); break;
        case setop::andnot: out.andnot_with(p.b, w0, w1); break;
      }
    });
    benchmark::DoNotOptimize(out.words());
    benchmark::ClobberMemory();
  }
  if (!bench::check(state, "count", out.count(), p.expected.count())) return;
  if (!bench::check_true(state, out == p.expected, "result equals std::set_* reference")) return;
  state.counters["ids/s"] = bench::rate(static_cast<double>(n), state);
  state.counters["hits"] = static_cast<double>(p.expected.count());
}

void BM_setop_roaring(benchmark::State& state, std::size_t n, density d, setop op) {
  const set_pair& p = set_data(n, d, op);
  roaring_ptr out;
  for (auto _ : state) {
    switch (op) {
      case setop::and_: out.reset(roaring_bitmap_and(p.ra.get(), p.rb.get())); break;
      case setop::or_: out.reset(roaring_bitmap_or(p.ra.get(), p.rb.get())); break;
      case setop::andnot: out.reset(roaring_bitmap_andnot(p.ra.get(), p.rb.get())); break;
    }
    benchmark::DoNotOptimize(out.get());
  }
  if (!bench::check(state, "count", roaring_bitmap_get_cardinality(out.get()), p.expected.count())) return;
  if (!bench::check_true(state, roaring_bitmap_equals(out.get(), p.rexpected.get()), "result equals std::set_* reference"))
    return;
  state.counters["ids/s"] = bench::rate(static_cast<double>(n), state);
  state.counters["hits"] = static_cast<double>(p.expected.count());
  state.SetLabel("single-threaded");
}

void register_setops() {
  for (std::size_t n : {std::size_t(1000000), std::size_t(10000000)})
    for (density d : {density::sparse, density::dense, density::runs})
      for (setop op : {setop::and_, setop::or_, setop::andnot}) {
        const std::string suffix = std::string(name_of(op)) + "/" + name_of(d) + "/" + (n == 1000000 ? "1M" : "10M");
        benchmark::RegisterBenchmark(("setop_flat/" + suffix).c_str(), BM_setop_flat, n, d, op)
            ->ArgName("threads")->Arg(1)->Arg(2)->UseRealTime()->Unit(benchmark::kMicrosecond);
        benchmark::RegisterBenchmark(("setop_roaring/" + suffix).c_str(), BM_setop_roaring, n, d, op)
            ->UseRealTime()->Unit(benchmark::kMicrosecond);
      }
}

// ---- traversals and aggregates ------------------------------------------------------------------

// Rows of `child` whose link `ln` is set and whose parent is in `in`.
kernel_case to_one_case(const char* child, const char* ln, const bitset& in, std::string label) {
  const b2bseg::graph& g = the_graph();
  const entity_id e = entity(child);
  const std::uint32_t l = link(e, ln);
  const auto parents = g.link(e, l).parents();
  kernel_case k;
  k.expected = rows_where(g.rows(e), [&](std::size_t r) { return parents[r] != b2bseg::no_row && in.test(parents[r]); });
  k.ids = g.rows(e);
  k.label = std::string(child) + "." + ln + " in " + label + " (" + std::to_string(g.rows(e)) + " rows)";
  auto input = std::make_shared<bitset>(in.clone());
  k.run = [&g, e, l, input] { return b2bseg::detail::eval_to_one(g, e, l, *input); };
  return k;
}

b2bseg::number_test ge(b2bseg::literal v) {
  b2bseg::number_test t;
  t.op = b2bseg::cmp_op::ge;
  t.value = std::move(v);
  return t;
}

// Parents (of `child.ln`'s target) with at least `min` children in a random half of the children.
kernel_case rev_count_case(const char* child, const char* ln, std::int64_t min, bool want_clustered) {
  const b2bseg::graph& g = the_graph();
  const entity_id c = entity(child);
  const std::uint32_t l = link(c, ln);
  const b2bseg::link_index& li = g.link(c, l);
  if (li.clustered() != want_clustered)
    throw std::runtime_error(std::string(child) + "." + ln + " is " + (li.clustered() ? "" : "not ") + "clustered");
  const entity_id parent = g.schema().entities[c].links[l].target;
  auto in = std::make_shared<bitset>(random_half(g.rows(c), 7));
  std::vector<std::int64_t> count(g.rows(parent), 0);
  const auto parents = li.parents();
  for (std::size_t r = 0; r < g.rows(c); ++r)
    if (parents[r] != b2bseg::no_row && in->test(r)) ++count[parents[r]];
  kernel_case k;
  k.expected = rows_where(g.rows(parent), [&](std::size_t p) { return count[p] >= min; });
  k.ids = g.rows(c);
  k.label = g.schema().entities[parent].name + " with >= " + std::to_string(min) + " of half the " + child + "s (" +
            (li.clustered() ? "clustered, " : "not clustered, ") + std::to_string(g.rows(c)) + " children, " +
            std::to_string(g.rows(parent)) + " parents)";
  b2bseg::plan_node node;
  node.op = b2bseg::plan_op::rev_count;
  node.entity = parent;
  node.source = c;
  node.link = l;
  node.test = ge(int_lit(min));
  k.run = [&g, node, in] { return b2bseg::detail::eval_rev_count(g, node, *in); };
  return k;
}

// Parents whose `fn` of child attribute `attr` over a random half of the children is >= `min`.
kernel_case rev_aggregate_case(const char* child, const char* ln, const char* attr, b2bseg::aggregate_fn fn,
                               b2bseg::literal min, std::string label) {
  const b2bseg::graph& g = the_graph();
  const entity_id c = entity(child);
  const std::uint32_t l = link(c, ln);
  const std::uint32_t a = attribute(c, attr);
  const b2bseg::link_index& li = g.link(c, l);
  const entity_id parent = g.schema().entities[c].links[l].target;
  const b2bseg::column& col = g.attribute(c, a);
  const std::vector<char> nulls = null_flags(col);
  auto in = std::make_shared<bitset>(random_half(g.rows(c), 11));
  // Plain loop over the children in row order: count, sum, max per parent (nulls skipped).
  const bool is_float = col.type() == b2bseg::value_type::floating;
  const std::size_t np = g.rows(parent);
  std::vector<std::int64_t> cnt(np, 0), imax(np, 0), isum(np, 0);
  std::vector<double> fsum(np, 0), fmax(np, 0);
  const auto parents = li.parents();
  // Children of a parent in ascending row order, as the kernel adds them (float sums).
  for (std::size_t r = 0; r < g.rows(c); ++r) {
    const row_id p = parents[r];
    if (p == b2bseg::no_row || !in->test(r) || nulls[r]) continue;
    if (is_float) {
      const double x = col.floats()[r];
      fsum[p] += x;
      fmax[p] = cnt[p] ? std::max(fmax[p], x) : x;
    } else {
      const std::int64_t x = col.ints()[r];
      isum[p] += x;
      imax[p] = cnt[p] ? std::max(imax[p], x) : x;
    }
    ++cnt[p];
  }
  const long double lim = b2bseg::detail::literal_number(min);
  kernel_case k;
  k.expected = rows_where(np, [&](std::size_t p) {
    switch (fn) {
      case b2bseg::aggregate_fn::sum:
        return (is_float ? (long double)fsum[p] : (long double)isum[p]) >= lim;
      case b2bseg::aggregate_fn::max:
        return cnt[p] > 0 && (is_float ? (long double)fmax[p] : (long double)imax[p]) >= lim;
      default:
        return false;  // not used here
    }
  });
  k.ids = g.rows(c);
  k.label = g.schema().entities[parent].name + " " + label + " (" + (li.clustered() ? "clustered, " : "not clustered, ") +
            std::to_string(g.rows(c)) + " children)";
  b2bseg::plan_node node;
  node.op = b2bseg::plan_op::rev_aggregate;
  node.entity = parent;
  node.source = c;
  node.link = l;
  node.attribute = a;
  node.fn = fn;
  node.test = ge(min);
  k.run = [&g, node, in] { return b2bseg::detail::eval_rev_aggregate(g, node, *in); };
  return k;
}

// Events with type = X and timestamp within the last 90 days: two leaf scans and an and_ node,
// computed as the executor computes them.
kernel_case event_window_case(const char* type) {
  using K = b2bseg::scan_pred::kind;
  const b2bseg::graph& g = the_graph();
  const entity_id e = entity("event");
  b2bseg::scan_pred pt = pred(K::compare, {str_lit(type)});
  pt.attribute = attribute(e, "type");
  b2bseg::scan_pred pw = pred(K::between, {ts_lit(as_of - 90 * day_us), ts_lit(as_of)});
  pw.attribute = attribute(e, "timestamp");
  const b2bseg::column& ct = g.attribute(e, pt.attribute);
  const b2bseg::column& cw = g.attribute(e, pw.attribute);
  const std::vector<char> nt = null_flags(ct), nw = null_flags(cw);
  const std::int64_t lo = as_of - 90 * day_us;
  kernel_case k;
  k.expected = rows_where(g.rows(e), [&](std::size_t r) {
    return !nt[r] && !nw[r] && ct.string_at(row_id(r)) == type && lo <= cw.ints()[r] && cw.ints()[r] <= as_of;
  });
  k.ids = g.rows(e);
  k.label = std::string("type = \"") + type + "\" and timestamp within last 90 days (" + std::to_string(g.rows(e)) +
            " events)";
  k.run = [&g, e, pt, pw] {
    bitset a = b2bseg::detail::eval_scan(g, e, pt);
    bitset b = b2bseg::detail::eval_scan(g, e, pw);
    b2bseg::detail::parallel_words(a.size(), [&](std::size_t w0, std::size_t w1) { a.and_with(b, w0, w1); });
    return a;
  };
  return k;
}

void register_graph_kernels() {
  using K = b2bseg::scan_pred::kind;
  // to-one: ~10M events whose person is a VP/C-Level; 1M people whose account is in Software.
  register_case("to_one/event.person", [] {
    const b2bseg::graph& g = the_graph();
    b2bseg::scan_pred p = pred(K::in_list, {str_lit("VP"), str_lit("C-Level")});
    p.attribute = attribute(entity("person"), "seniority");
    return to_one_case("event", "person", b2bseg::detail::eval_scan(g, entity("person"), p), "VP/C-Level people");
  });
  register_case("to_one/person.account", [] {
    const b2bseg::graph& g = the_graph();
    b2bseg::scan_pred p = pred(K::compare, {str_lit("Software")});
    p.attribute = attribute(entity("account"), "industry");
    return to_one_case("person", "account", b2bseg::detail::eval_scan(g, entity("account"), p), "Software accounts");
  });
  // Reverse counts: clustered (children numbered by parent: a popcount per range) and not.
  register_case("rev_count_clustered/person.events", [] { return rev_count_case("event", "person", 5, true); });
  register_case("rev_count_unclustered/campaign.events", [] { return rev_count_case("event", "campaign", 1000, false); });
  register_case("rev_count_clustered/account.people", [] { return rev_count_case("person", "account", 5, true); });
  register_case("rev_count_unclustered/account.person_relations",
                [] { return rev_count_case("account_person", "account", 5, false); });
  // Aggregates per parent.
  register_case("rev_aggregate_max/person.events.timestamp", [] {
    return rev_aggregate_case("event", "person", "timestamp", b2bseg::aggregate_fn::max,
                              ts_lit(as_of - 30 * day_us), "max(events.timestamp) >= now - 30 days");
  });
  register_case("rev_aggregate_sum/account.opportunities.amount", [] {
    return rev_aggregate_case("opportunity", "account", "amount", b2bseg::aggregate_fn::sum, float_lit(100000),
                              "sum(opportunities.amount) >= 100000");
  });
  // The event-window filter over all events.
  register_case("event_window/webinar.attended", [] { return event_window_case("webinar.attended"); });
  register_case("event_window/web.pageview", [] { return event_window_case("web.pageview"); });
}

}  // namespace

int main(int argc, char** argv) {
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  bench::settle_malloc();
  benchmark::AddCustomContext("simd", b2bseg::simd_level_name());
  benchmark::AddCustomContext("people", std::to_string(bench::people_from_env()));
  register_scans();
  register_graph_kernels();
  register_setops();
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
