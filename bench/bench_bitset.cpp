// Benchmarks of the flat bitset kernels (each SIMD level, vs CRoaring) and of the conversions.
// Every benchmark checks its result against a value computed once.
//
// Build by hand (from the repository root):
//   g++ -O2 -std=c++20 -Iinclude bench/bench_bitset.cpp -lbenchmark -lroaring -ltbb -lpthread
#include <benchmark/benchmark.h>

#include <bit>
#include <cstdint>
#include <map>
#include <memory>
#include <random>
#include <vector>

#include "b2bseg/exec/bitset.hpp"

namespace {

using b2bseg::bitset;
using b2bseg::simd_level;

// ---- shared data, built once per size ---------------------------------------------------------

struct roaring_deleter {
  void operator()(roaring_bitmap_t* r) const noexcept { roaring_bitmap_free(r); }
};
using roaring_ptr = std::unique_ptr<roaring_bitmap_t, roaring_deleter>;

std::vector<std::uint32_t> ids_of(const bitset& b) {
  std::vector<std::uint32_t> ids;
  for (std::size_t i = 0; i < b.size(); ++i)
    if (b.test(i)) ids.push_back(static_cast<std::uint32_t>(i));
  return ids;
}

// Builds the Roaring side from the ids with CRoaring's own functions (not ours).
roaring_ptr roaring_of(const bitset& b, bool run_optimize) {
  const std::vector<std::uint32_t> ids = ids_of(b);
  roaring_ptr r(roaring_bitmap_of_ptr(ids.size(), ids.data()));
  if (run_optimize) roaring_bitmap_run_optimize(r.get());
  return r;
}

// Two independent ~50% random sets and the expected results, counted with plain loops.
struct dense_pair {
  bitset a, b;
  roaring_ptr ra, rb;
  std::size_t count_a = 0, count_and = 0, count_or = 0, count_andnot = 0;
};

const dense_pair& dense(std::size_t n) {
  static std::map<std::size_t, std::unique_ptr<dense_pair>> cache;
  auto& slot = cache[n];
  if (!slot) {
    auto p = std::make_unique<dense_pair>();
    p->a = bitset(n);
    p->b = bitset(n);
    std::mt19937_64 rng(n);
    const std::size_t used = (n + 63) / 64;
    for (std::size_t i = 0; i < used; ++i) {
      p->a.words()[i] = rng();
      p->b.words()[i] = rng();
    }
    if (n % 64) {  // keep the padding clear
      p->a.words()[used - 1] &= (std::uint64_t{1} << (n % 64)) - 1;
      p->b.words()[used - 1] &= (std::uint64_t{1} << (n % 64)) - 1;
    }
    for (std::size_t i = 0; i < used; ++i) {
      const std::uint64_t x = p->a.words()[i], y = p->b.words()[i];
      p->count_a += static_cast<std::size_t>(std::popcount(x));
      p->count_and += static_cast<std::size_t>(std::popcount(x & y));
      p->count_or += static_cast<std::size_t>(std::popcount(x | y));
      p->count_andnot += static_cast<std::size_t>(std::popcount(x & ~y));
    }
    p->ra = roaring_of(p->a, false);
    p->rb = roaring_of(p->b, false);
    slot = std::move(p);
  }
  return *slot;
}

enum shape : int { sparse = 0, dense50 = 1, runs = 2 };
const char* shape_name(int s) {
  return s == sparse ? "sparse" : s == dense50 ? "dense" : "runs";
}

// One set of the given shape: sparse (~0.5%), dense (~50%), or runs (long runs of ones, ~50%).
struct shaped {
  bitset bits;
  roaring_ptr r;  // run-optimized, as an index would keep it
  std::size_t count = 0;
};

const shaped& shaped_set(int s, std::size_t n) {
  static std::map<std::pair<int, std::size_t>, std::unique_ptr<shaped>> cache;
  auto& slot = cache[{s, n}];
  if (!slot) {
    auto p = std::make_unique<shaped>();
    p->bits = bitset(n);
    std::mt19937_64 rng(n + static_cast<std::size_t>(s));
    if (s == sparse) {
      for (std::size_t i = 0; i < n / 200; ++i) p->bits.set(rng() % n);
    } else if (s == dense50) {
      for (std::size_t i = 0; i < n; ++i)
        if (rng() & 1) p->bits.set(i);
    } else {
      std::geometric_distribution<std::size_t> len(1.0 / 2000);
      for (std::size_t i = len(rng); i < n;) {
        const std::size_t l = 1 + len(rng);
        p->bits.set_range(i, std::min(n, i + l));
        i += l + 1 + len(rng);
      }
    }
    p->count = ids_of(p->bits).size();
    p->r = roaring_of(p->bits, true);
    slot = std::move(p);
  }
  return *slot;
}

// Forces the level named by the first argument; false (and the benchmark skipped) when the CPU
// cannot run it.
bool use_level(benchmark::State& state) {
  const auto level = static_cast<simd_level>(state.range(0));
  if (!b2bseg::simd_level_supported(level)) {
    state.SkipWithError("SIMD level not supported by this CPU");
    return false;
  }
  b2bseg::detail::force_simd_level(level);
  state.SetLabel(b2bseg::simd_level_name(level));
  return true;
}

void check(benchmark::State& state, std::size_t got, std::size_t want) {
  if (got != want) state.SkipWithError("wrong result");
}

// ---- flat kernels, per SIMD level. Args: {level, n_bits} ---------------------------------------

template <void (bitset::*Op)(const bitset&, const bitset&) noexcept>
void flat_binop(benchmark::State& state, std::size_t dense_pair::*expected) {
  const std::size_t n = static_cast<std::size_t>(state.range(1));
  const dense_pair& d = dense(n);
  if (!use_level(state)) return;
  bitset out(n);
  for (auto _ : state) {
    (out.*Op)(d.a, d.b);
    benchmark::DoNotOptimize(out.words());
    benchmark::ClobberMemory();
  }
  check(state, out.count(), d.*expected);
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * 3 * out.word_count() * 8));
}

void BM_flat_and(benchmark::State& state) {
  flat_binop<&bitset::assign_and>(state, &dense_pair::count_and);
}
void BM_flat_or(benchmark::State& state) {
  flat_binop<&bitset::assign_or>(state, &dense_pair::count_or);
}
void BM_flat_andnot(benchmark::State& state) {
  flat_binop<&bitset::assign_andnot>(state, &dense_pair::count_andnot);
}

void BM_flat_and_count(benchmark::State& state) {
  const std::size_t n = static_cast<std::size_t>(state.range(1));
  const dense_pair& d = dense(n);
  if (!use_level(state)) return;
  std::size_t got = 0;
  for (auto _ : state) {
    got = d.a.and_count(d.b);
    benchmark::DoNotOptimize(got);
  }
  check(state, got, d.count_and);
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * 2 * d.a.word_count() * 8));
}

void BM_flat_popcount(benchmark::State& state) {
  const std::size_t n = static_cast<std::size_t>(state.range(1));
  const dense_pair& d = dense(n);
  if (!use_level(state)) return;
  std::size_t got = 0;
  for (auto _ : state) {
    got = d.a.count();
    benchmark::DoNotOptimize(got);
  }
  check(state, got, d.count_a);
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * d.a.word_count() * 8));
}

void flat_args(benchmark::internal::Benchmark* b) {
  for (std::int64_t n : {1 << 20, 10 << 20})
    for (simd_level l : b2bseg::all_simd_levels) b->Args({static_cast<std::int64_t>(l), n});
}

BENCHMARK(BM_flat_and)->Apply(flat_args);
BENCHMARK(BM_flat_or)->Apply(flat_args);
BENCHMARK(BM_flat_andnot)->Apply(flat_args);
BENCHMARK(BM_flat_and_count)->Apply(flat_args);
BENCHMARK(BM_flat_popcount)->Apply(flat_args);

// ---- CRoaring on the same data (bitset containers throughout). Arg: n_bits ------------------

template <roaring_bitmap_t* (*Op)(const roaring_bitmap_t*, const roaring_bitmap_t*)>
void roaring_binop(benchmark::State& state, std::size_t dense_pair::*expected) {
  const dense_pair& d = dense(static_cast<std::size_t>(state.range(0)));
  std::size_t got = 0;
  for (auto _ : state) {
    roaring_ptr r(Op(d.ra.get(), d.rb.get()));
    got = roaring_bitmap_get_cardinality(r.get());
    benchmark::DoNotOptimize(got);
  }
  check(state, got, d.*expected);
}

void BM_roaring_and(benchmark::State& state) {
  roaring_binop<roaring_bitmap_and>(state, &dense_pair::count_and);
}
void BM_roaring_or(benchmark::State& state) {
  roaring_binop<roaring_bitmap_or>(state, &dense_pair::count_or);
}
void BM_roaring_andnot(benchmark::State& state) {
  roaring_binop<roaring_bitmap_andnot>(state, &dense_pair::count_andnot);
}

void BM_roaring_and_cardinality(benchmark::State& state) {
  const dense_pair& d = dense(static_cast<std::size_t>(state.range(0)));
  std::size_t got = 0;
  for (auto _ : state) {
    got = roaring_bitmap_and_cardinality(d.ra.get(), d.rb.get());
    benchmark::DoNotOptimize(got);
  }
  check(state, got, d.count_and);
}

BENCHMARK(BM_roaring_and)->Arg(1 << 20)->Arg(10 << 20);
BENCHMARK(BM_roaring_or)->Arg(1 << 20)->Arg(10 << 20);
BENCHMARK(BM_roaring_andnot)->Arg(1 << 20)->Arg(10 << 20);
BENCHMARK(BM_roaring_and_cardinality)->Arg(1 << 20)->Arg(10 << 20);

// ---- conversions (best level). Args: {shape, n_bits} ------------------------------------------

void conv_setup(benchmark::State& state) {
  b2bseg::detail::reset_simd_level();
  state.SetLabel(std::string(shape_name(static_cast<int>(state.range(0)))) + "/" +
                 b2bseg::simd_level_name());
}

void BM_to_bitset(benchmark::State& state) {
  const shaped& s =
      shaped_set(static_cast<int>(state.range(0)), static_cast<std::size_t>(state.range(1)));
  conv_setup(state);
  for (auto _ : state) {
    bitset b = b2bseg::to_bitset(s.r.get(), s.bits.size());
    benchmark::DoNotOptimize(b.words());
    benchmark::ClobberMemory();
  }
  check(state, b2bseg::to_bitset(s.r.get(), s.bits.size()) == s.bits ? 1 : 0, 1);
}

// Baseline: what a caller without container access does (iterate values, set bits).
void BM_to_bitset_via_iterate(benchmark::State& state) {
  const shaped& s =
      shaped_set(static_cast<int>(state.range(0)), static_cast<std::size_t>(state.range(1)));
  conv_setup(state);
  bitset b;
  for (auto _ : state) {
    b = bitset(s.bits.size());
    roaring_iterate(
        s.r.get(),
        [](std::uint32_t v, void* p) {
          static_cast<bitset*>(p)->set(v);
          return true;
        },
        &b);
    benchmark::DoNotOptimize(b.words());
  }
  check(state, b == s.bits ? 1 : 0, 1);
}

void BM_or_into(benchmark::State& state) {
  const shaped& s =
      shaped_set(static_cast<int>(state.range(0)), static_cast<std::size_t>(state.range(1)));
  conv_setup(state);
  bitset b(s.bits.size());
  for (auto _ : state) {
    b2bseg::or_into(b, s.r.get());
    benchmark::DoNotOptimize(b.words());
  }
  check(state, b == s.bits ? 1 : 0, 1);
}

void BM_to_roaring(benchmark::State& state) {
  const shaped& s =
      shaped_set(static_cast<int>(state.range(0)), static_cast<std::size_t>(state.range(1)));
  conv_setup(state);
  std::size_t got = 0;
  for (auto _ : state) {
    roaring_ptr r(b2bseg::to_roaring(s.bits));
    got = roaring_bitmap_get_cardinality(r.get());
    benchmark::DoNotOptimize(got);
  }
  check(state, got, s.count);
  roaring_ptr r(b2bseg::to_roaring(s.bits));
  check(state, roaring_bitmap_equals(r.get(), s.r.get()) ? 1 : 0, 1);
}

// Baseline: decode the ids, then roaring_bitmap_of_ptr and run_optimize.
void BM_to_roaring_via_ids(benchmark::State& state) {
  const shaped& s =
      shaped_set(static_cast<int>(state.range(0)), static_cast<std::size_t>(state.range(1)));
  conv_setup(state);
  std::vector<std::uint32_t> ids(s.count);
  std::size_t got = 0;
  for (auto _ : state) {
    const std::size_t k = b2bseg::to_ids(s.bits, ids.data());
    roaring_ptr r(roaring_bitmap_of_ptr(k, ids.data()));
    roaring_bitmap_run_optimize(r.get());
    got = roaring_bitmap_get_cardinality(r.get());
    benchmark::DoNotOptimize(got);
  }
  check(state, got, s.count);
}

void BM_to_ids(benchmark::State& state) {
  const shaped& s =
      shaped_set(static_cast<int>(state.range(0)), static_cast<std::size_t>(state.range(1)));
  conv_setup(state);
  std::vector<std::uint32_t> ids(s.count);
  std::size_t got = 0;
  for (auto _ : state) {
    got = b2bseg::to_ids(s.bits, ids.data());
    benchmark::DoNotOptimize(ids.data());
  }
  check(state, got, s.count);
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations() * s.count));
}

void BM_for_each(benchmark::State& state) {
  const shaped& s =
      shaped_set(static_cast<int>(state.range(0)), static_cast<std::size_t>(state.range(1)));
  conv_setup(state);
  std::size_t got = 0;
  for (auto _ : state) {
    got = 0;
    s.bits.for_each([&](std::uint32_t) { ++got; });
    benchmark::DoNotOptimize(got);
  }
  check(state, got, s.count);
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations() * s.count));
}

void conv_args(benchmark::internal::Benchmark* b) {
  for (int s : {sparse, dense50, runs}) b->Args({s, 10 << 20});
}

BENCHMARK(BM_to_bitset)->Apply(conv_args);
BENCHMARK(BM_to_bitset_via_iterate)->Apply(conv_args);
BENCHMARK(BM_or_into)->Apply(conv_args);
BENCHMARK(BM_to_roaring)->Apply(conv_args);
BENCHMARK(BM_to_roaring_via_ids)->Apply(conv_args);
BENCHMARK(BM_to_ids)->Apply(conv_args);
BENCHMARK(BM_for_each)->Apply(conv_args);

}  // namespace

BENCHMARK_MAIN();
