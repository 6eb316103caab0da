// Tests of the flat bitset, its SIMD kernels at every level the CPU runs, and Roaring conversions.
#include "b2bseg/exec/bitset.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <random>
#include <set>
#include <string>
#include <vector>

namespace {

using b2bseg::bitset;
using b2bseg::simd_level;

// ---- naive references ---------------------------------------------------------------------------

using ref_bits = std::vector<std::uint8_t>;  // one byte per bit

ref_bits random_ref(std::size_t n, double density, std::mt19937_64& rng) {
  ref_bits r(n, 0);
  std::bernoulli_distribution d(density);
  for (std::size_t i = 0; i < n; ++i) r[i] = d(rng) ? 1 : 0;
  return r;
}

// Runs of ones with random lengths and gaps (roughly `density` of the bits set).
ref_bits run_heavy_ref(std::size_t n, std::mt19937_64& rng) {
  ref_bits r(n, 0);
  std::geometric_distribution<std::size_t> run(1.0 / 300), gap(1.0 / 200);
  for (std::size_t i = gap(rng); i < n;) {
    const std::size_t len = 1 + run(rng);
    for (std::size_t k = i; k < std::min(n, i + len); ++k) r[k] = 1;
    i += len + 1 + gap(rng);
  }
  return r;
}

bitset from_ref(const ref_bits& r) {
  bitset b(r.size());
  for (std::size_t i = 0; i < r.size(); ++i)
    if (r[i]) b.set(i);
  return b;
}

std::size_t ref_count(const ref_bits& r, std::size_t a, std::size_t b) {
  std::size_t n = 0;
  for (std::size_t i = a; i < b; ++i) n += r[i];
  return n;
}

std::vector<std::uint32_t> ref_ids(const ref_bits& r) {
  std::vector<std::uint32_t> ids;
  for (std::size_t i = 0; i < r.size(); ++i)
    if (r[i]) ids.push_back(static_cast<std::uint32_t>(i));
  return ids;
}

// Checks b against r bit by bit, plus count() and the padding invariant.
void expect_equal(const bitset& b, const ref_bits& r, const std::string& what) {
  SCOPED_TRACE(what);
  ASSERT_EQ(b.size(), r.size());
  ASSERT_TRUE(b.validate());
  std::size_t mismatches = 0, first = 0;
  for (std::size_t i = 0; i < r.size(); ++i)
    if (b.test(i) != (r[i] != 0) && mismatches++ == 0) first = i;
  EXPECT_EQ(mismatches, 0u) << "first mismatch at bit " << first;
  EXPECT_EQ(b.count(), ref_count(r, 0, r.size()));
}

std::uint64_t random_word(std::mt19937_64& rng) {
  switch (rng() % 4) {
    case 0:
      return 0;
    case 1:
      return ~std::uint64_t{0};
    case 2:
      return rng() & rng() & rng();  // sparse
    default:
      return rng();
  }
}

std::size_t naive_popcount(std::uint64_t x) {
  std::size_t n = 0;
  for (; x; x >>= 1) n += x & 1;
  return n;
}

std::size_t naive_runs(const std::uint64_t* w, std::size_t n_words) {
  std::size_t runs = 0;
  bool prev = false;
  for (std::size_t i = 0; i < 64 * n_words; ++i) {
    const bool bit = (w[i / 64] >> (i % 64)) & 1;
    if (bit && !prev) ++runs;
    prev = bit;
  }
  return runs;
}

const std::size_t kSizes[] = {0, 1, 63, 64, 65, 511, 512, 513, 100003};
const double kDensities[] = {0.0, 0.001, 0.1, 0.5, 0.9, 1.0};

// ---- fixture: one instance per SIMD level ---------------------------------------------------

class Levels : public ::testing::TestWithParam<simd_level> {
 protected:
  void SetUp() override {
    if (!b2bseg::simd_level_supported(GetParam()))
      GTEST_SKIP() << "this CPU cannot run " << b2bseg::simd_level_name(GetParam());
    b2bseg::detail::force_simd_level(GetParam());
    ASSERT_EQ(b2bseg::active_simd_level(), GetParam());
    ASSERT_STREQ(b2bseg::simd_level_name(), b2bseg::simd_level_name(GetParam()));
  }
  void TearDown() override { b2bseg::detail::reset_simd_level(); }
};

INSTANTIATE_TEST_SUITE_P(Simd, Levels, ::testing::ValuesIn(b2bseg::all_simd_levels),
                         [](const ::testing::TestParamInfo<simd_level>& info) {
                           return std::string(b2bseg::simd_level_name(info.param));
                         });

// ---- raw kernels: every length 0..80 and some longer, unaligned starts, in-place -------------

TEST_P(Levels, KernelsMatchNaive) {
  std::mt19937_64 rng(42);
  std::vector<std::size_t> lengths;
  for (std::size_t n = 0; n <= 80; ++n) lengths.push_back(n);
  for (std::size_t n : {127, 128, 129, 255, 256, 257, 1000, 1024, 1031, 4099}) lengths.push_back(n);
  for (std::size_t n : lengths) {
    for (std::size_t offset : {0, 1, 3}) {
      SCOPED_TRACE("n_words=" + std::to_string(n) + " offset=" + std::to_string(offset));
      std::vector<std::uint64_t> abuf(n + offset + 1), bbuf(n + offset + 1), dbuf(n + offset + 1);
      for (auto& w : abuf) w = random_word(rng);
      for (auto& w : bbuf) w = random_word(rng);
      const std::uint64_t* a = abuf.data() + offset;
      const std::uint64_t* b = bbuf.data() + offset;
      std::uint64_t* d = dbuf.data() + offset;
      const std::uint64_t sentinel = 0x5a5a5a5a5a5a5a5aULL;
      auto check_binop = [&](auto kernel, auto op, const char* name) {
        SCOPED_TRACE(name);
        std::fill(dbuf.begin(), dbuf.end(), sentinel);
        kernel(d, a, b, n);
        for (std::size_t i = 0; i < n; ++i) ASSERT_EQ(d[i], op(a[i], b[i])) << "word " << i;
        EXPECT_EQ(dbuf[n + offset], sentinel) << "wrote past the end";
        if (offset) {
          EXPECT_EQ(dbuf[offset - 1], sentinel) << "wrote before the start";
        }
        // In place, as dst == a and as dst == b.
        std::vector<std::uint64_t> x(a, a + n), y(b, b + n);
        kernel(x.data(), x.data(), b, n);
        kernel(y.data(), a, y.data(), n);
        for (std::size_t i = 0; i < n; ++i) {
          ASSERT_EQ(x[i], op(a[i], b[i]));
          ASSERT_EQ(y[i], op(a[i], b[i]));
        }
      };
      check_binop(
          b2bseg::and_words, [](auto x, auto y) { return x & y; }, "and");
      check_binop(
          b2bseg::or_words, [](auto x, auto y) { return x | y; }, "or");
      check_binop(
          b2bseg::andnot_words, [](auto x, auto y) { return x & ~y; }, "andnot");
      check_binop(
          b2bseg::xor_words, [](auto x, auto y) { return x ^ y; }, "xor");

      std::fill(dbuf.begin(), dbuf.end(), sentinel);
      b2bseg::not_words(d, a, n);
      for (std::size_t i = 0; i < n; ++i) ASSERT_EQ(d[i], ~a[i]);
      EXPECT_EQ(dbuf[n + offset], sentinel);

      std::size_t pa = 0, pand = 0, por = 0, pandnot = 0, pxor = 0;
      for (std::size_t i = 0; i < n; ++i) {
        pa += naive_popcount(a[i]);
        pand += naive_popcount(a[i] & b[i]);
        por += naive_popcount(a[i] | b[i]);
        pandnot += naive_popcount(a[i] & ~b[i]);
        pxor += naive_popcount(a[i] ^ b[i]);
      }
      EXPECT_EQ(b2bseg::popcount_words(a, n), pa);
      EXPECT_EQ(b2bseg::and_popcount_words(a, b, n), pand);
      EXPECT_EQ(b2bseg::or_popcount_words(a, b, n), por);
      EXPECT_EQ(b2bseg::andnot_popcount_words(a, b, n), pandnot);
      EXPECT_EQ(b2bseg::xor_popcount_words(a, b, n), pxor);
      EXPECT_EQ(b2bseg::count_runs_words(a, n), naive_runs(a, n));

      // decode_words with exact room (nothing written past it) and with spare room, at a low
      // base and at the top of the 32-bit id space.
      for (std::uint64_t base : {std::uint64_t{64} * offset, (std::uint64_t{1} << 32) - 64 * n}) {
        std::vector<std::uint32_t> want;
        for (std::size_t i = 0; i < 64 * n; ++i)
          if ((a[i / 64] >> (i % 64)) & 1) want.push_back(static_cast<std::uint32_t>(base + i));
        std::vector<std::uint32_t> got(want.size() + 1, 0xdeadbeef);
        ASSERT_EQ(
            b2bseg::decode_words(a, n, static_cast<std::uint32_t>(base), got.data(), want.size()),
            want.size());
        EXPECT_EQ(got.back(), 0xdeadbeefu) << "wrote past the room given";
        got.pop_back();
        EXPECT_EQ(got, want);
        std::vector<std::uint32_t> roomy(want.size() + 100);
        ASSERT_EQ(b2bseg::decode_words(a, n, static_cast<std::uint32_t>(base), roomy.data(),
                                       roomy.size()),
                  want.size());
        roomy.resize(want.size());
        EXPECT_EQ(roomy, want);
      }
    }
  }
}

TEST_P(Levels, KernelsExtremes) {
  // All ones over many words: byte counters in the lookup kernels must not overflow.
  std::vector<std::uint64_t> ones(100000, ~std::uint64_t{0}), zeros(100000, 0);
  EXPECT_EQ(b2bseg::popcount_words(ones.data(), ones.size()), 64u * ones.size());
  EXPECT_EQ(b2bseg::and_popcount_words(ones.data(), ones.data(), ones.size()), 64u * ones.size());
  EXPECT_EQ(b2bseg::or_popcount_words(ones.data(), zeros.data(), ones.size()), 64u * ones.size());
  EXPECT_EQ(b2bseg::andnot_popcount_words(ones.data(), zeros.data(), ones.size()),
            64u * ones.size());
  EXPECT_EQ(b2bseg::count_runs_words(ones.data(), ones.size()), 1u);
  EXPECT_EQ(b2bseg::count_runs_words(zeros.data(), zeros.size()), 0u);
  std::vector<std::uint64_t> alt(1000, 0x5555555555555555ULL);
  EXPECT_EQ(b2bseg::count_runs_words(alt.data(), alt.size()), 32u * alt.size());
  std::vector<std::uint64_t> halves(1000, 0xffffffff00000000ULL);
  EXPECT_EQ(b2bseg::count_runs_words(halves.data(), halves.size()), halves.size());
  std::vector<std::uint64_t> lows(1000, 0x00000000ffffffffULL);
  EXPECT_EQ(b2bseg::count_runs_words(lows.data(), lows.size()), lows.size());
  // Runs crossing word boundaries: top bit of one word and bottom bit of the next (plus bit 0
  // of the first word and bit 63 of the last, alone).
  std::vector<std::uint64_t> across(1000, 0x8000000000000001ULL);
  EXPECT_EQ(b2bseg::count_runs_words(across.data(), across.size()), across.size() + 1);
}

// ---- the bitset class: every op vs the reference, padding checked after each -----------------

TEST_P(Levels, BitsetOpsMatchReference) {
  std::mt19937_64 rng(7);
  for (std::size_t n : kSizes) {
    for (double density : kDensities) {
      SCOPED_TRACE("size=" + std::to_string(n) + " density=" + std::to_string(density));
      const ref_bits ra = random_ref(n, density, rng);
      const ref_bits rb = random_ref(n, 1.0 - density / 2, rng);
      bitset a = from_ref(ra), b = from_ref(rb);
      expect_equal(a, ra, "construction");
      EXPECT_EQ(a.word_count() % 8, 0u);
      EXPECT_EQ(a.word_count() * 64 >= n, true);
      EXPECT_EQ(a.word_count(), (n + 511) / 512 * 8);
      EXPECT_EQ(a.any(), ref_count(ra, 0, n) > 0);
      EXPECT_EQ(a.none(), ref_count(ra, 0, n) == 0);

      // Binary ops: in place, in place over word ranges, and assign_*.
      using member_fn = void (bitset::*)(const bitset&) noexcept;
      using range_fn = void (bitset::*)(const bitset&, std::size_t, std::size_t) noexcept;
      using assign_fn = void (bitset::*)(const bitset&, const bitset&) noexcept;
      auto check_binop = [&](member_fn member, range_fn range, assign_fn assign, auto op,
                             const char* name) {
        ref_bits r(n);
        for (std::size_t i = 0; i < n; ++i) r[i] = static_cast<std::uint8_t>(op(ra[i], rb[i]));
        bitset x = a.clone();
        (x.*member)(b);
        expect_equal(x, r, std::string(name) + "_with");
        if (assign != nullptr) {
          bitset y(n, true);
          (y.*assign)(a, b);
          expect_equal(y, r, std::string("assign_") + name);
          bitset z = a.clone();
          (z.*assign)(z, b);  // aliasing the destination
          expect_equal(z, r, std::string("assign_") + name + " aliased");
        }
        // Word-range variant over random pieces; untouched words keep their bits.
        bitset z = a.clone();
        ref_bits rz = ra;
        for (std::size_t w = 0; w < z.word_count();) {
          const std::size_t w1 = std::min(z.word_count(), w + 1 + rng() % 20);
          if (rng() % 3 != 0) {
            (z.*range)(b, w, w1);
            for (std::size_t i = 64 * w; i < std::min(n, 64 * w1); ++i)
              rz[i] = static_cast<std::uint8_t>(op(ra[i], rb[i]));
          }
          ASSERT_TRUE(z.validate());
          w = w1;
        }
        expect_equal(z, rz, std::string(name) + "_with ranges");
      };
      check_binop(
          &bitset::and_with, &bitset::and_with, &bitset::assign_and,
          [](int x, int y) { return x & y; }, "and");
      check_binop(
          &bitset::or_with, &bitset::or_with, &bitset::assign_or,
          [](int x, int y) { return x | y; }, "or");
      check_binop(
          &bitset::andnot_with, &bitset::andnot_with, &bitset::assign_andnot,
          [](int x, int y) { return x & (1 - y); }, "andnot");
      check_binop(
          &bitset::xor_with, &bitset::xor_with, nullptr, [](int x, int y) { return x ^ y; }, "xor");

      // Counting without materializing.
      std::size_t n_and = 0, n_andnot = 0;
      for (std::size_t i = 0; i < n; ++i) {
        n_and += ra[i] & rb[i];
        n_andnot += ra[i] & (1 - rb[i]);
      }
      EXPECT_EQ(a.and_count(b), n_and);
      EXPECT_EQ(a.andnot_count(b), n_andnot);

      // count_range over random ranges, including empty and full.
      EXPECT_EQ(a.count_range(0, n), ref_count(ra, 0, n));
      EXPECT_EQ(a.count_range(n, n), 0u);
      for (int k = 0; k < 50 && n > 0; ++k) {
        std::size_t x = rng() % (n + 1), y = rng() % (n + 1);
        if (x > y) std::swap(x, y);
        ASSERT_EQ(a.count_range(x, y), ref_count(ra, x, y)) << "[" << x << "," << y << ")";
      }

      // flip_all, twice.
      {
        bitset x = a.clone();
        ref_bits r = ra;
        for (auto& v : r) v ^= 1;
        x.flip_all();
        expect_equal(x, r, "flip_all");
        x.flip_all();
        expect_equal(x, ra, "flip_all twice");
      }

      // fill.
      {
        bitset x = a.clone();
        x.fill(true);
        expect_equal(x, ref_bits(n, 1), "fill(true)");
        EXPECT_EQ(x.count(), n);
        x.fill(false);
        expect_equal(x, ref_bits(n, 0), "fill(false)");
        bitset y(n, true);
        expect_equal(y, ref_bits(n, 1), "construct filled");
      }

      // set / reset / set_range / reset_range, randomly interleaved.
      {
        bitset x = a.clone();
        ref_bits r = ra;
        for (int k = 0; k < 60 && n > 0; ++k) {
          const std::size_t i = rng() % n;
          std::size_t lo = rng() % (n + 1), hi = rng() % (n + 1);
          if (lo > hi) std::swap(lo, hi);
          switch (k % 4) {
            case 0:
              x.set(i);
              r[i] = 1;
              break;
            case 1:
              x.reset(i);
              r[i] = 0;
              break;
            case 2:
              x.set_range(lo, hi);
              for (std::size_t j = lo; j < hi; ++j) r[j] = 1;
              break;
            default:
              x.reset_range(lo, hi);
              for (std::size_t j = lo; j < hi; ++j) r[j] = 0;
              break;
          }
          ASSERT_TRUE(x.validate());
        }
        x.set_range(0, n);
        r.assign(n, 1);
        expect_equal(x, r, "set_range full");
        x.reset_range(0, n);
        r.assign(n, 0);
        expect_equal(x, r, "reset_range full");
      }

      // Decoding: for_each, to_ids, decode_words on a word range.
      {
        std::vector<std::uint32_t> seen;
        a.for_each([&](std::uint32_t id) { seen.push_back(id); });
        EXPECT_EQ(seen, ref_ids(ra));
        EXPECT_EQ(b2bseg::to_ids(a), ref_ids(ra));
        std::vector<std::uint32_t> out(a.count() + 1, 0xdeadbeef);
        EXPECT_EQ(b2bseg::to_ids(a, out.data()), a.count());
        EXPECT_EQ(out.back(), 0xdeadbeefu);
        if (a.word_count() >= 2) {
          const std::size_t w0 = 1, w1 = a.word_count() - 1;
          std::vector<std::uint32_t> part(64 * (w1 - w0));
          part.resize(b2bseg::decode_words(a.words() + w0, w1 - w0,
                                           static_cast<std::uint32_t>(64 * w0), part.data()));
          std::vector<std::uint32_t> expected;
          for (std::uint32_t id : ref_ids(ra))
            if (id >= 64 * w0 && id < 64 * w1) expected.push_back(id);
          EXPECT_EQ(part, expected);
        }
      }

      // clone, move, equality.
      {
        bitset x = a.clone();
        EXPECT_TRUE(x == a);
        bitset y = std::move(x);
        EXPECT_TRUE(y == a);
        EXPECT_EQ(x.size(), 0u);  // NOLINT(bugprone-use-after-move): documented state
        EXPECT_TRUE(x.validate());
        x = std::move(y);
        EXPECT_TRUE(x == a);
        if (n > 0) {
          x.flip_all();
          EXPECT_FALSE(x == a);
        }
      }
    }
  }
}

TEST(Bitset, EmptyAndLimits) {
  bitset e;
  EXPECT_EQ(e.size(), 0u);
  EXPECT_EQ(e.word_count(), 0u);
  EXPECT_EQ(e.words(), nullptr);
  EXPECT_TRUE(e.validate());
  EXPECT_EQ(e.count(), 0u);
  EXPECT_FALSE(e.any());
  e.flip_all();
  e.fill(true);
  EXPECT_TRUE(e.validate());
  EXPECT_EQ(e.count(), 0u);
  bitset z(0, true);
  EXPECT_TRUE(z == e);
  EXPECT_THROW(bitset((std::size_t{1} << 32) + 1), std::length_error);
  bitset one(1, true);
  EXPECT_EQ(one.word_count(), 8u);
  EXPECT_EQ(one.words()[0], 1u);
  EXPECT_EQ(reinterpret_cast<std::uintptr_t>(one.words()) % 64, 0u);
}

TEST(Bitset, ValidateDetectsDirtyPadding) {
  bitset b(65);
  b.words()[1] |= std::uint64_t{1} << 1;  // bit 65: past the end
  EXPECT_FALSE(b.validate());
  b.words()[1] = 0;
  b.words()[7] = 1;  // a padding word
  EXPECT_FALSE(b.validate());
  b.words()[7] = 0;
  EXPECT_TRUE(b.validate());
}

TEST(Simd, LevelsAgreeAndNames) {
  EXPECT_TRUE(b2bseg::simd_level_supported(simd_level::scalar));
  EXPECT_STREQ(b2bseg::simd_level_name(simd_level::avx512), "avx512");
  EXPECT_STREQ(b2bseg::simd_level_name(simd_level::avx2), "avx2");
  EXPECT_STREQ(b2bseg::simd_level_name(simd_level::scalar), "scalar");
  // The automatic choice is the best supported level (unless B2BSEG_SIMD caps it).
  if (std::getenv("B2BSEG_SIMD") == nullptr) {
    simd_level best = simd_level::scalar;
    for (simd_level l : b2bseg::all_simd_levels)
      if (b2bseg::simd_level_supported(l)) best = l;
    EXPECT_EQ(b2bseg::active_simd_level(), best);
  }
  std::printf("SIMD level in use: %s\n", b2bseg::simd_level_name());

  std::mt19937_64 rng(99);
  std::vector<std::uint64_t> a(100003 / 64 + 1), b(a.size());
  for (auto& w : a) w = rng();
  for (auto& w : b) w = rng() | rng();
  std::vector<std::size_t> results;
  std::vector<std::uint64_t> reference_and;
  for (simd_level l : b2bseg::all_simd_levels) {
    if (!b2bseg::simd_level_supported(l)) continue;
    b2bseg::detail::force_simd_level(l);
    std::vector<std::uint64_t> d(a.size());
    b2bseg::and_words(d.data(), a.data(), b.data(), a.size());
    if (reference_and.empty()) reference_and = d;
    EXPECT_EQ(d, reference_and) << b2bseg::simd_level_name(l);
    results.push_back(b2bseg::and_popcount_words(a.data(), b.data(), a.size()));
    EXPECT_EQ(results.back(), results.front()) << b2bseg::simd_level_name(l);
  }
  b2bseg::detail::reset_simd_level();
  for (simd_level l : b2bseg::all_simd_levels) {
    if (!b2bseg::simd_level_supported(l)) {
      EXPECT_THROW(b2bseg::detail::force_simd_level(l), std::invalid_argument);
    }
  }
}

// ---- Roaring conversions ------------------------------------------------------------------------

// Structural check of a CRoaring 0.2.66 bitmap: keys ascending, each container well formed and of
// the kind CRoaring itself would keep (arrays <= 4096 values, bitsets > 4096).
void expect_valid_roaring(const roaring_bitmap_t* r) {
  const roaring_array_t& ra = r->high_low_container;
  for (std::int32_t i = 0; i < ra.size; ++i) {
    SCOPED_TRACE("container " + std::to_string(i));
    if (i > 0) {
      ASSERT_LT(ra.keys[i - 1], ra.keys[i]);
    }
    const void* c = ra.containers[i];
    std::uint8_t type = ra.typecodes[i];
    ASSERT_NE(c, nullptr);
    if (type == SHARED_CONTAINER_TYPE_CODE) {
      type = static_cast<const shared_container_t*>(c)->typecode;
      c = static_cast<const shared_container_t*>(c)->container;
    }
    switch (type) {
      case BITSET_CONTAINER_TYPE_CODE: {
        const auto* bc = static_cast<const bitset_container_t*>(c);
        std::size_t card = 0;
        for (int k = 0; k < 1024; ++k) card += naive_popcount(bc->array[k]);
        EXPECT_EQ(static_cast<std::size_t>(bc->cardinality), card);
        EXPECT_GT(card, 4096u);
        break;
      }
      case ARRAY_CONTAINER_TYPE_CODE: {
        const auto* ac = static_cast<const array_container_t*>(c);
        EXPECT_GT(ac->cardinality, 0);
        EXPECT_LE(ac->cardinality, 4096);
        EXPECT_LE(ac->cardinality, ac->capacity);
        for (int k = 1; k < ac->cardinality; ++k) ASSERT_LT(ac->array[k - 1], ac->array[k]);
        break;
      }
      case RUN_CONTAINER_TYPE_CODE: {
        const auto* rc = static_cast<const run_container_t*>(c);
        EXPECT_GT(rc->n_runs, 0);
        EXPECT_LE(rc->n_runs, rc->capacity);
        for (int k = 0; k < rc->n_runs; ++k) {
          ASSERT_LE(std::size_t{rc->runs[k].value} + rc->runs[k].length, 65535u);
          if (k > 0) {  // sorted, disjoint and not adjacent
            ASSERT_GT(rc->runs[k].value,
                      std::size_t{rc->runs[k - 1].value} + rc->runs[k - 1].length + 1);
          }
        }
        break;
      }
      default:
        FAIL() << "bad typecode " << int(type);
    }
  }
}

std::vector<std::uint32_t> roaring_ids(const roaring_bitmap_t* r) {
  std::vector<std::uint32_t> ids(roaring_bitmap_get_cardinality(r));
  roaring_bitmap_to_uint32_array(r, ids.data());
  return ids;
}

struct pattern {
  const char* name;
  ref_bits bits;
};

// Sparse, dense, run-heavy, full, and exactly-4096 / 4097 values in a chunk (array/bitset edge).
std::vector<pattern> patterns(std::size_t n, std::mt19937_64& rng) {
  std::vector<pattern> p;
  p.push_back({"empty", ref_bits(n, 0)});
  p.push_back({"sparse", random_ref(n, 0.002, rng)});
  p.push_back({"dense", random_ref(n, 0.5, rng)});
  p.push_back({"very_dense", random_ref(n, 0.98, rng)});
  p.push_back({"runs", run_heavy_ref(n, rng)});
  p.push_back({"full", ref_bits(n, 1)});
  for (std::size_t k : {4096, 4097}) {
    ref_bits r(n, 0);
    for (std::size_t i = 0; i < std::min(n, k); ++i)
      r[(i * 13) % std::min<std::size_t>(n, 65536)] = 1;
    p.push_back({k == 4096 ? "card4096" : "card4097", r});
  }
  return p;
}

const std::size_t kConvSizes[] = {0, 1, 63, 64, 65, 511, 512, 513, 100003, 65536, 65537, 196613};

TEST_P(Levels, RoaringToBitset) {
  std::mt19937_64 rng(11);
  for (std::size_t n : kConvSizes) {
    for (const pattern& p : patterns(n, rng)) {
      SCOPED_TRACE("size=" + std::to_string(n) + " pattern=" + p.name);
      const std::vector<std::uint32_t> ids = ref_ids(p.bits);
      const std::set<std::uint32_t> want(ids.begin(), ids.end());
      roaring_bitmap_t* plain = roaring_bitmap_of_ptr(ids.size(), ids.data());
      roaring_bitmap_t* runs = roaring_bitmap_copy(plain);
      roaring_bitmap_run_optimize(runs);
      // Copy-on-write copies share their containers: the source gets shared containers too.
      roaring_bitmap_t* cow_src = roaring_bitmap_copy(runs);
      roaring_bitmap_set_copy_on_write(cow_src, true);
      roaring_bitmap_t* cow = roaring_bitmap_copy(cow_src);
      if (!want.empty()) {
        bool has_shared = false;
        for (std::int32_t i = 0; i < cow->high_low_container.size; ++i)
          has_shared |= cow->high_low_container.typecodes[i] == SHARED_CONTAINER_TYPE_CODE;
        EXPECT_TRUE(has_shared);
      }
      for (const roaring_bitmap_t* r : {plain, runs, cow}) {
        bitset b = b2bseg::to_bitset(r, n);
        expect_equal(b, p.bits, "to_bitset");
        EXPECT_EQ(b2bseg::to_ids(b), std::vector<std::uint32_t>(want.begin(), want.end()));

        // or_into onto random bits: the union.
        ref_bits base = random_ref(n, 0.3, rng);
        bitset u = from_ref(base);
        b2bseg::or_into(u, r);
        for (std::uint32_t id : want) base[id] = 1;
        expect_equal(u, base, "or_into");

        // Values beyond the bitset are refused, leaving it unchanged.
        if (!want.empty()) {
          const std::size_t too_small = *want.rbegin();
          EXPECT_THROW(b2bseg::to_bitset(r, too_small), std::out_of_range);
          bitset v(too_small);
          EXPECT_THROW(b2bseg::or_into(v, r), std::out_of_range);
          EXPECT_EQ(v.count(), 0u);
        }
      }
      // The C++ wrapper.
      Roaring cpp(ids.size(), ids.data());
      expect_equal(b2bseg::to_bitset(cpp, n), p.bits, "to_bitset(Roaring)");
      bitset w(n);
      b2bseg::or_into(w, cpp);
      expect_equal(w, p.bits, "or_into(Roaring)");

      roaring_bitmap_free(plain);
      roaring_bitmap_free(runs);
      roaring_bitmap_free(cow);
      roaring_bitmap_free(cow_src);
    }
  }
}

TEST_P(Levels, BitsetToRoaring) {
  std::mt19937_64 rng(13);
  for (std::size_t n : kConvSizes) {
    for (const pattern& p : patterns(n, rng)) {
      SCOPED_TRACE("size=" + std::to_string(n) + " pattern=" + p.name);
      const std::vector<std::uint32_t> ids = ref_ids(p.bits);
      const bitset b = from_ref(p.bits);
      roaring_bitmap_t* naive = roaring_bitmap_of_ptr(ids.size(), ids.data());
      roaring_bitmap_t* naive_runs = roaring_bitmap_copy(naive);
      roaring_bitmap_run_optimize(naive_runs);
      for (bool optimize : {false, true}) {
        SCOPED_TRACE(optimize ? "optimize_runs" : "no runs");
        roaring_bitmap_t* r = b2bseg::to_roaring(b, optimize);
        expect_valid_roaring(r);
        EXPECT_EQ(roaring_bitmap_get_cardinality(r), ids.size());
        EXPECT_EQ(roaring_ids(r), ids);
        EXPECT_TRUE(roaring_bitmap_equals(r, naive));
        // Same container choices as CRoaring's own (add_many, then run_optimize when asked).
        EXPECT_EQ(roaring_bitmap_portable_size_in_bytes(r),
                  roaring_bitmap_portable_size_in_bytes(optimize ? naive_runs : naive));
        if (!optimize) {
          EXPECT_FALSE(ra_has_run_container(&r->high_low_container));
        }
        // Usable by CRoaring: set operations and a serialization round trip.
        EXPECT_EQ(roaring_bitmap_and_cardinality(r, naive_runs), ids.size());
        roaring_bitmap_t* both = roaring_bitmap_or(r, naive);
        EXPECT_TRUE(roaring_bitmap_equals(both, naive));
        roaring_bitmap_free(both);
        std::vector<char> buf(roaring_bitmap_portable_size_in_bytes(r));
        roaring_bitmap_portable_serialize(r, buf.data());
        roaring_bitmap_t* back = roaring_bitmap_portable_deserialize(buf.data());
        ASSERT_NE(back, nullptr);
        EXPECT_TRUE(roaring_bitmap_equals(back, naive));
        roaring_bitmap_free(back);
        // And back to a bitset.
        expect_equal(b2bseg::to_bitset(r, n), p.bits, "round trip");
        roaring_bitmap_free(r);
      }
      Roaring cpp = b2bseg::to_roaring_cpp(b);
      EXPECT_EQ(cpp.cardinality(), ids.size());
      EXPECT_TRUE(roaring_bitmap_equals(&cpp.roaring, naive));
      roaring_bitmap_free(naive);
      roaring_bitmap_free(naive_runs);
    }
  }
}

}  // namespace
