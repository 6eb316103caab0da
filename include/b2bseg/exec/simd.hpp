// Kernels over 64-bit word arrays (set algebra, popcounts, decoding), AVX-512/AVX2/scalar by CPU.
#pragma once

#include <atomic>
#include <bit>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <stdexcept>
#include <string>
#include <string_view>

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#define B2BSEG_SIMD_X86 1
#include <immintrin.h>
// Function-level targets: the library is compiled for baseline x86-64 and only these functions
// use wider instructions, after `__builtin_cpu_supports` said the CPU and the OS allow them.
#define B2BSEG_TARGET_AVX2 __attribute__((target("avx2,bmi,popcnt")))
#define B2BSEG_TARGET_AVX512F __attribute__((target("avx512f,popcnt")))
#define B2BSEG_TARGET_AVX512BW __attribute__((target("avx512f,avx512bw,popcnt")))
#define B2BSEG_TARGET_AVX512VPOPCNT __attribute__((target("avx512f,avx512vpopcntdq,popcnt")))
#else
#define B2BSEG_SIMD_X86 0
#endif

namespace b2bseg {

/// An instruction-set level for the word kernels, from slowest to fastest.
/// `avx512` needs AVX-512F and VPOPCNTDQ; `avx512bw` is AVX-512 without VPOPCNTDQ (Skylake-X,
/// Cascade Lake), counting bits with byte shuffles instead.
enum class simd_level : std::uint8_t { scalar = 0, avx2 = 1, avx512bw = 2, avx512 = 3 };

/// All levels, slowest first (for tests that run every level).
inline constexpr simd_level all_simd_levels[] = {simd_level::scalar, simd_level::avx2,
                                                 simd_level::avx512bw, simd_level::avx512};

/// The name of a level: "scalar", "avx2", "avx512bw" or "avx512". O(1).
constexpr const char* simd_level_name(simd_level level) noexcept {
  switch (level) {
    case simd_level::scalar:
      return "scalar";
    case simd_level::avx2:
      return "avx2";
    case simd_level::avx512bw:
      return "avx512bw";
    case simd_level::avx512:
      return "avx512";
  }
  return "?";
}

namespace detail {

using binop_fn = void (*)(std::uint64_t*, const std::uint64_t*, const std::uint64_t*,
                          std::size_t) noexcept;
using unop_fn = void (*)(std::uint64_t*, const std::uint64_t*, std::size_t) noexcept;
using count1_fn = std::size_t (*)(const std::uint64_t*, std::size_t) noexcept;
using count2_fn = std::size_t (*)(const std::uint64_t*, const std::uint64_t*, std::size_t) noexcept;
using decode_fn = std::size_t (*)(const std::uint64_t*, std::size_t, std::uint32_t, std::uint32_t*,
                                  std::size_t) noexcept;

/// One level's kernels. The public functions below call through the active table.
struct simd_kernels {
  simd_level level;
  binop_fn and_words;
  binop_fn or_words;
  binop_fn andnot_words;
  binop_fn xor_words;
  unop_fn not_words;
  count1_fn popcount_words;
  count2_fn and_popcount_words;
  count2_fn or_popcount_words;
  count2_fn andnot_popcount_words;
  count2_fn xor_popcount_words;
  count1_fn count_runs_words;
  decode_fn decode_words;
};

// ---- the operations, as scalar and vector functions --------------------------------------------

struct op_and {
  static constexpr std::uint64_t s(std::uint64_t a, std::uint64_t b) noexcept { return a & b; }
#if B2BSEG_SIMD_X86
  B2BSEG_TARGET_AVX2 static __m256i v256(__m256i a, __m256i b) noexcept {
    return _mm256_and_si256(a, b);
  }
  B2BSEG_TARGET_AVX512F static __m512i v512(__m512i a, __m512i b) noexcept {
    return _mm512_and_si512(a, b);
  }
#endif
};

struct op_or {
  static constexpr std::uint64_t s(std::uint64_t a, std::uint64_t b) noexcept { return a | b; }
#if B2BSEG_SIMD_X86
  B2BSEG_TARGET_AVX2 static __m256i v256(__m256i a, __m256i b) noexcept {
    return _mm256_or_si256(a, b);
  }
  B2BSEG_TARGET_AVX512F static __m512i v512(__m512i a, __m512i b) noexcept {
    return _mm512_or_si512(a, b);
  }
#endif
};

/// a AND NOT b.
struct op_andnot {
  static constexpr std::uint64_t s(std::uint64_t a, std::uint64_t b) noexcept { return a & ~b; }
#if B2BSEG_SIMD_X86
  B2BSEG_TARGET_AVX2 static __m256i v256(__m256i a, __m256i b) noexcept {
    return _mm256_andnot_si256(b, a);
  }
  B2BSEG_TARGET_AVX512F static __m512i v512(__m512i a, __m512i b) noexcept {
    return _mm512_ternarylogic_epi64(a, b, b, 0x30);  // a & ~b
  }
#endif
};

struct op_xor {
  static constexpr std::uint64_t s(std::uint64_t a, std::uint64_t b) noexcept { return a ^ b; }
#if B2BSEG_SIMD_X86
  B2BSEG_TARGET_AVX2 static __m256i v256(__m256i a, __m256i b) noexcept {
    return _mm256_xor_si256(a, b);
  }
  B2BSEG_TARGET_AVX512F static __m512i v512(__m512i a, __m512i b) noexcept {
    return _mm512_xor_si512(a, b);
  }
#endif
};

/// NOT a (b is ignored).
struct op_not {
  static constexpr std::uint64_t s(std::uint64_t a, std::uint64_t) noexcept { return ~a; }
#if B2BSEG_SIMD_X86
  B2BSEG_TARGET_AVX2 static __m256i v256(__m256i a, __m256i) noexcept {
    return _mm256_xor_si256(a, _mm256_set1_epi64x(-1));
  }
  B2BSEG_TARGET_AVX512F static __m512i v512(__m512i a, __m512i) noexcept {
    return _mm512_ternarylogic_epi64(a, a, a, 0x55);
  }
#endif
};

// ---- sources of words to count: one array, two arrays combined, run starts -------------------

/// Words of one array.
struct src_one {
  const std::uint64_t* a;
  std::uint64_t s(std::size_t i) const noexcept { return a[i]; }
#if B2BSEG_SIMD_X86
  B2BSEG_TARGET_AVX2 __m256i v256(std::size_t i) const noexcept {
    return _mm256_loadu_si256(reinterpret_cast<const __m256i*>(a + i));
  }
  B2BSEG_TARGET_AVX512F __m512i v512(std::size_t i) const noexcept {
    return _mm512_loadu_si512(a + i);
  }
#endif
};

/// Words of `Op(a, b)`.
template <class Op>
struct src_two {
  const std::uint64_t* a;
  const std::uint64_t* b;
  std::uint64_t s(std::size_t i) const noexcept { return Op::s(a[i], b[i]); }
#if B2BSEG_SIMD_X86
  B2BSEG_TARGET_AVX2 __m256i v256(std::size_t i) const noexcept {
    return Op::v256(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(a + i)),
                    _mm256_loadu_si256(reinterpret_cast<const __m256i*>(b + i)));
  }
  B2BSEG_TARGET_AVX512F __m512i v512(std::size_t i) const noexcept {
    return Op::v512(_mm512_loadu_si512(a + i), _mm512_loadu_si512(b + i));
  }
#endif
};

/// Bits that start a run of ones: set, with the bit below clear. Valid for i >= 1 only (word 0
/// has no word below it; the caller handles it).
struct src_run_starts {
  const std::uint64_t* a;
  std::uint64_t s(std::size_t i) const noexcept { return a[i] & ~((a[i] << 1) | (a[i - 1] >> 63)); }
#if B2BSEG_SIMD_X86
  B2BSEG_TARGET_AVX2 __m256i v256(std::size_t i) const noexcept {
    const __m256i cur = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(a + i));
    const __m256i prev = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(a + i - 1));
    return _mm256_andnot_si256(
        _mm256_or_si256(_mm256_slli_epi64(cur, 1), _mm256_srli_epi64(prev, 63)), cur);
  }
  B2BSEG_TARGET_AVX512F __m512i v512(std::size_t i) const noexcept {
    const __m512i cur = _mm512_loadu_si512(a + i);
    const __m512i prev = _mm512_loadu_si512(a + i - 1);
    const __m512i below =
        _mm512_or_si512(_mm512_add_epi64(cur, cur), _mm512_maskz_srli_epi64(0xff, prev, 63));
    return _mm512_ternarylogic_epi64(cur, below, below, 0x30);  // cur & ~below
  }
#endif
};

// ---- portable scalar kernels -------------------------------------------------------------------

/// Population count of one word without the POPCNT instruction when it is not known to exist
/// (baseline x86-64 would otherwise call libgcc's table-driven __popcountdi2).
constexpr unsigned popcount64(std::uint64_t x) noexcept {
#if defined(__x86_64__) && !defined(__POPCNT__)
  x = x - ((x >> 1) & 0x5555555555555555ULL);
  x = (x & 0x3333333333333333ULL) + ((x >> 2) & 0x3333333333333333ULL);
  x = (x + (x >> 4)) & 0x0f0f0f0f0f0f0f0fULL;
  return static_cast<unsigned>((x * 0x0101010101010101ULL) >> 56);
#else
  return static_cast<unsigned>(std::popcount(x));
#endif
}

template <class Op>
void scalar_binop(std::uint64_t* dst, const std::uint64_t* a, const std::uint64_t* b,
                  std::size_t n) noexcept {
  for (std::size_t i = 0; i < n; ++i) dst[i] = Op::s(a[i], b[i]);
}

inline void scalar_not(std::uint64_t* dst, const std::uint64_t* a, std::size_t n) noexcept {
  for (std::size_t i = 0; i < n; ++i) dst[i] = ~a[i];
}

template <class Src>
std::size_t scalar_count(const Src& src, std::size_t i, std::size_t n) noexcept {
  std::size_t total = 0;
  for (; i < n; ++i) total += popcount64(src.s(i));
  return total;
}

inline std::size_t scalar_popcount(const std::uint64_t* a, std::size_t n) noexcept {
  return scalar_count(src_one{a}, 0, n);
}

template <class Op>
std::size_t scalar_popcount2(const std::uint64_t* a, const std::uint64_t* b,
                             std::size_t n) noexcept {
  return scalar_count(src_two<Op>{a, b}, 0, n);
}

inline std::size_t scalar_count_runs(const std::uint64_t* a, std::size_t n) noexcept {
  if (n == 0) return 0;
  return popcount64(a[0] & ~(a[0] << 1)) + scalar_count(src_run_starts{a}, 1, n);
}

/// Writes base + (position of each set bit) of w[0, n_words), ascending, to out; returns how
/// many. Never writes past the ids it returns. `T` must hold base + 64 * n_words - 1.
template <class T>
inline std::size_t decode_exact(const std::uint64_t* w, std::size_t n_words, std::size_t base,
                                T* out) noexcept {
  std::size_t n = 0;
  for (std::size_t i = 0; i < n_words; ++i) {
    std::uint64_t x = w[i];
    const std::size_t b = base + 64 * i;
    while (x != 0) {
      out[n++] = static_cast<T>(b + static_cast<std::size_t>(std::countr_zero(x)));
      x &= x - 1;
    }
  }
  return n;
}

/// Decodes words into ids, skipping zero words eight at a time (one test per eight words for
/// sparse sets). `decode_word(x, b, o)` writes the ids of word x (bit 0 = id b) to o, possibly
/// followed by junk, using at most `Slack` slots, and returns the number of ids. Runs while at
/// least `Slack` slots remain before `cap` (the room in out), then finishes exactly.
/// Forced inline so that it compiles for its caller's target.
template <std::size_t Slack, class T, class DecodeWord>
[[gnu::always_inline]] inline std::size_t decode_skipping_zeros(const std::uint64_t* w,
                                                                std::size_t n_words,
                                                                std::size_t base, T* out,
                                                                std::size_t cap,
                                                                DecodeWord decode_word) noexcept {
  std::size_t n = 0, i = 0;
  for (; i + 8 <= n_words; i += 8) {
    unsigned nonzero = 0;
    for (unsigned j = 0; j < 8; ++j) nonzero |= static_cast<unsigned>(w[i + j] != 0) << j;
    while (nonzero != 0) {
      const std::size_t k = i + static_cast<std::size_t>(std::countr_zero(nonzero));
      if (n + Slack > cap) return n + decode_exact(w + k, n_words - k, base + 64 * k, out + n);
      n += decode_word(w[k], base + 64 * k, out + n);
      nonzero &= nonzero - 1;
    }
  }
  return n + decode_exact(w + i, n_words - i, base + 64 * i, out + n);
}

/// Writes a word's ids eight at a time without testing for the end (junk past the count, at most
/// 64 slots), which mispredicts far less than one branch per id. `Pop` counts bits.
template <class T, class Pop>
struct batched_word_decoder {
  [[gnu::always_inline]] std::size_t operator()(std::uint64_t x, std::size_t b,
                                                T* o) const noexcept {
    const std::size_t cnt = Pop{}(x);
    for (std::size_t k = 0;; k += 8) {
#pragma GCC unroll 8
      for (std::size_t j = 0; j < 8; ++j) {  // countr_zero(0) is 64: junk, never out of bounds
        o[k + j] = static_cast<T>(b + static_cast<std::size_t>(std::countr_zero(x)));
        x &= x - 1;
      }
      if (k + 8 >= cnt) return cnt;
    }
  }
};

/// Writes a word's ids exactly, one ctz per id (no junk, no slack).
template <class T>
struct exact_word_decoder {
  [[gnu::always_inline]] std::size_t operator()(std::uint64_t x, std::size_t b,
                                                T* o) const noexcept {
    std::size_t n = 0;
    for (; x != 0; x &= x - 1)
      o[n++] = static_cast<T>(b + static_cast<std::size_t>(std::countr_zero(x)));
    return n;
  }
};

/// Decoding without POPCNT/TZCNT: zero words skipped eight at a time, then one ctz per id (the
/// batched writer loses here: baseline countr_zero needs a branch-free fix-up for zero words).
/// Writes nothing past the ids; `cap` is unused.
template <class T>
inline std::size_t decode_portable(const std::uint64_t* w, std::size_t n_words, std::size_t base,
                                   T* out, std::size_t cap) noexcept {
  return decode_skipping_zeros<0>(w, n_words, base, out, cap, exact_word_decoder<T>{});
}

inline std::size_t scalar_decode(const std::uint64_t* w, std::size_t n_words, std::uint32_t base,
                                 std::uint32_t* out, std::size_t cap) noexcept {
  return decode_portable(w, n_words, base, out, cap);
}

inline constexpr simd_kernels scalar_kernels{simd_level::scalar,
                                             &scalar_binop<op_and>,
                                             &scalar_binop<op_or>,
                                             &scalar_binop<op_andnot>,
                                             &scalar_binop<op_xor>,
                                             &scalar_not,
                                             &scalar_popcount,
                                             &scalar_popcount2<op_and>,
                                             &scalar_popcount2<op_or>,
                                             &scalar_popcount2<op_andnot>,
                                             &scalar_popcount2<op_xor>,
                                             &scalar_count_runs,
                                             &scalar_decode};

#if B2BSEG_SIMD_X86

// ---- AVX2 --------------------------------------------------------------------------------------

template <class Op>
B2BSEG_TARGET_AVX2 void avx2_binop(std::uint64_t* dst, const std::uint64_t* a,
                                   const std::uint64_t* b, std::size_t n) noexcept {
  std::size_t i = 0;
  for (; i + 16 <= n; i += 16) {
    // Four loads of each input before any store, so that dst may be a or b.
    __m256i r[4];
    for (int k = 0; k < 4; ++k)
      r[k] = Op::v256(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(a + i + 4 * k)),
                      _mm256_loadu_si256(reinterpret_cast<const __m256i*>(b + i + 4 * k)));
    for (int k = 0; k < 4; ++k)
      _mm256_storeu_si256(reinterpret_cast<__m256i*>(dst + i + 4 * k), r[k]);
  }
  for (; i + 4 <= n; i += 4)
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(dst + i),
                        Op::v256(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(a + i)),
                                 _mm256_loadu_si256(reinterpret_cast<const __m256i*>(b + i))));
  for (; i < n; ++i) dst[i] = Op::s(a[i], b[i]);
}

B2BSEG_TARGET_AVX2 inline void avx2_not(std::uint64_t* dst, const std::uint64_t* a,
                                        std::size_t n) noexcept {
  avx2_binop<op_not>(dst, a, a, n);
}

/// Per-byte population counts of a vector (Mula's nibble lookup).
B2BSEG_TARGET_AVX2 inline __m256i avx2_popcount_bytes(__m256i v) noexcept {
  const __m256i lut = _mm256_setr_epi8(0, 1, 1, 2, 1, 2, 2, 3, 1, 2, 2, 3, 2, 3, 3, 4,  //
                                       0, 1, 1, 2, 1, 2, 2, 3, 1, 2, 2, 3, 2, 3, 3, 4);
  const __m256i low = _mm256_set1_epi8(0x0f);
  const __m256i lo = _mm256_and_si256(v, low);
  const __m256i hi = _mm256_and_si256(_mm256_srli_epi16(v, 4), low);
  return _mm256_add_epi8(_mm256_shuffle_epi8(lut, lo), _mm256_shuffle_epi8(lut, hi));
}

template <class Src>
B2BSEG_TARGET_AVX2 std::size_t avx2_count(const Src& src, std::size_t i, std::size_t n) noexcept {
  const __m256i zero = _mm256_setzero_si256();
  __m256i acc = zero;
  // Byte counters take at most 8 per vector; 8 vectors (<= 64) fit a byte before widening.
  for (; i + 32 <= n; i += 32) {
    __m256i bytes = avx2_popcount_bytes(src.v256(i));
    for (std::size_t k = 4; k < 32; k += 4)
      bytes = _mm256_add_epi8(bytes, avx2_popcount_bytes(src.v256(i + k)));
    acc = _mm256_add_epi64(acc, _mm256_sad_epu8(bytes, zero));
  }
  for (; i + 4 <= n; i += 4)
    acc = _mm256_add_epi64(acc, _mm256_sad_epu8(avx2_popcount_bytes(src.v256(i)), zero));
  std::size_t total = static_cast<std::size_t>(_mm256_extract_epi64(acc, 0)) +
                      static_cast<std::size_t>(_mm256_extract_epi64(acc, 1)) +
                      static_cast<std::size_t>(_mm256_extract_epi64(acc, 2)) +
                      static_cast<std::size_t>(_mm256_extract_epi64(acc, 3));
  for (; i < n; ++i) total += static_cast<std::size_t>(__builtin_popcountll(src.s(i)));
  return total;
}

B2BSEG_TARGET_AVX2 inline std::size_t avx2_popcount(const std::uint64_t* a,
                                                    std::size_t n) noexcept {
  return avx2_count(src_one{a}, 0, n);
}

template <class Op>
B2BSEG_TARGET_AVX2 std::size_t avx2_popcount2(const std::uint64_t* a, const std::uint64_t* b,
                                              std::size_t n) noexcept {
  return avx2_count(src_two<Op>{a, b}, 0, n);
}

B2BSEG_TARGET_AVX2 inline std::size_t avx2_count_runs(const std::uint64_t* a,
                                                      std::size_t n) noexcept {
  if (n == 0) return 0;
  return static_cast<std::size_t>(__builtin_popcountll(a[0] & ~(a[0] << 1))) +
         avx2_count(src_run_starts{a}, 1, n);
}

struct builtin_popcount {
  [[gnu::always_inline]] std::size_t operator()(std::uint64_t x) const noexcept {
    return static_cast<std::size_t>(__builtin_popcountll(x));  // POPCNT in the caller's target
  }
};

B2BSEG_TARGET_AVX2 inline std::size_t avx2_decode(const std::uint64_t* w, std::size_t n_words,
                                                  std::uint32_t base, std::uint32_t* out,
                                                  std::size_t cap) noexcept {
  return decode_skipping_zeros<64>(w, n_words, base, out, cap,
                                   batched_word_decoder<std::uint32_t, builtin_popcount>{});
}

inline constexpr simd_kernels avx2_kernels{simd_level::avx2,
                                           &avx2_binop<op_and>,
                                           &avx2_binop<op_or>,
                                           &avx2_binop<op_andnot>,
                                           &avx2_binop<op_xor>,
                                           &avx2_not,
                                           &avx2_popcount,
                                           &avx2_popcount2<op_and>,
                                           &avx2_popcount2<op_or>,
                                           &avx2_popcount2<op_andnot>,
                                           &avx2_popcount2<op_xor>,
                                           &avx2_count_runs,
                                           &avx2_decode};

// ---- AVX-512 (bitwise work needs only AVX-512F; counting has two versions) ---------------------

template <class Op>
B2BSEG_TARGET_AVX512F void avx512_binop(std::uint64_t* dst, const std::uint64_t* a,
                                        const std::uint64_t* b, std::size_t n) noexcept {
  std::size_t i = 0;
  for (; i + 32 <= n; i += 32) {
    __m512i r[4];
    for (int k = 0; k < 4; ++k)
      r[k] = Op::v512(_mm512_loadu_si512(a + i + 8 * k), _mm512_loadu_si512(b + i + 8 * k));
    for (int k = 0; k < 4; ++k) _mm512_storeu_si512(dst + i + 8 * k, r[k]);
  }
  for (; i + 8 <= n; i += 8)
    _mm512_storeu_si512(dst + i, Op::v512(_mm512_loadu_si512(a + i), _mm512_loadu_si512(b + i)));
  if (i < n) {
    const __mmask8 m = static_cast<__mmask8>((1u << (n - i)) - 1);
    _mm512_mask_storeu_epi64(
        dst + i, m,
        Op::v512(_mm512_maskz_loadu_epi64(m, a + i), _mm512_maskz_loadu_epi64(m, b + i)));
  }
}

B2BSEG_TARGET_AVX512F inline void avx512_not(std::uint64_t* dst, const std::uint64_t* a,
                                             std::size_t n) noexcept {
  avx512_binop<op_not>(dst, a, a, n);
}

/// Sum of the eight 64-bit lanes. (Through memory: GCC 12's _mm512_reduce_add_epi64 and
/// shift intrinsics raise false -Wuninitialized warnings when used under a target attribute.)
B2BSEG_TARGET_AVX512F inline std::size_t avx512_sum_lanes(__m512i v) noexcept {
  alignas(64) std::uint64_t lanes[8];
  _mm512_store_si512(lanes, v);
  std::uint64_t total = 0;
  for (std::uint64_t x : lanes) total += x;
  return static_cast<std::size_t>(total);
}

/// Per-byte population counts of a vector (nibble lookup, for CPUs without VPOPCNTDQ).
B2BSEG_TARGET_AVX512BW inline __m512i avx512bw_popcount_bytes(__m512i v) noexcept {
  // Bytes 0,1,1,2,1,2,2,3,1,2,2,3,2,3,3,4 in each 128-bit lane.
  const __m512i lut = _mm512_set_epi64(
      0x0403030203020201LL, 0x0302020102010100LL, 0x0403030203020201LL, 0x0302020102010100LL,
      0x0403030203020201LL, 0x0302020102010100LL, 0x0403030203020201LL, 0x0302020102010100LL);
  const __m512i low = _mm512_set1_epi8(0x0f);
  const __m512i lo = _mm512_and_si512(v, low);
  const __m512i hi = _mm512_and_si512(_mm512_maskz_srli_epi16(~__mmask32{0}, v, 4), low);
  return _mm512_add_epi8(_mm512_shuffle_epi8(lut, lo), _mm512_shuffle_epi8(lut, hi));
}

template <class Src>
B2BSEG_TARGET_AVX512BW std::size_t avx512bw_count(const Src& src, std::size_t i,
                                                  std::size_t n) noexcept {
  const __m512i zero = _mm512_setzero_si512();
  __m512i acc = zero;
  for (; i + 64 <= n; i += 64) {
    __m512i bytes = avx512bw_popcount_bytes(src.v512(i));
    for (std::size_t k = 8; k < 64; k += 8)
      bytes = _mm512_add_epi8(bytes, avx512bw_popcount_bytes(src.v512(i + k)));
    acc = _mm512_add_epi64(acc, _mm512_sad_epu8(bytes, zero));
  }
  for (; i + 8 <= n; i += 8)
    acc = _mm512_add_epi64(acc, _mm512_sad_epu8(avx512bw_popcount_bytes(src.v512(i)), zero));
  std::size_t total = avx512_sum_lanes(acc);
  for (; i < n; ++i) total += static_cast<std::size_t>(__builtin_popcountll(src.s(i)));
  return total;
}

template <class Src>
B2BSEG_TARGET_AVX512VPOPCNT std::size_t avx512_count(const Src& src, std::size_t i,
                                                     std::size_t n) noexcept {
  __m512i acc0 = _mm512_setzero_si512();
  __m512i acc1 = _mm512_setzero_si512();
  for (; i + 16 <= n; i += 16) {
    acc0 = _mm512_add_epi64(acc0, _mm512_popcnt_epi64(src.v512(i)));
    acc1 = _mm512_add_epi64(acc1, _mm512_popcnt_epi64(src.v512(i + 8)));
  }
  for (; i + 8 <= n; i += 8) acc0 = _mm512_add_epi64(acc0, _mm512_popcnt_epi64(src.v512(i)));
  std::size_t total = avx512_sum_lanes(_mm512_add_epi64(acc0, acc1));
  for (; i < n; ++i) total += static_cast<std::size_t>(__builtin_popcountll(src.s(i)));
  return total;
}

B2BSEG_TARGET_AVX512BW inline std::size_t avx512bw_popcount(const std::uint64_t* a,
                                                            std::size_t n) noexcept {
  return avx512bw_count(src_one{a}, 0, n);
}

template <class Op>
B2BSEG_TARGET_AVX512BW std::size_t avx512bw_popcount2(const std::uint64_t* a,
                                                      const std::uint64_t* b,
                                                      std::size_t n) noexcept {
  return avx512bw_count(src_two<Op>{a, b}, 0, n);
}

B2BSEG_TARGET_AVX512BW inline std::size_t avx512bw_count_runs(const std::uint64_t* a,
                                                              std::size_t n) noexcept {
  if (n == 0) return 0;
  return static_cast<std::size_t>(__builtin_popcountll(a[0] & ~(a[0] << 1))) +
         avx512bw_count(src_run_starts{a}, 1, n);
}

B2BSEG_TARGET_AVX512VPOPCNT inline std::size_t avx512_popcount(const std::uint64_t* a,
                                                               std::size_t n) noexcept {
  return avx512_count(src_one{a}, 0, n);
}

template <class Op>
B2BSEG_TARGET_AVX512VPOPCNT std::size_t avx512_popcount2(const std::uint64_t* a,
                                                         const std::uint64_t* b,
                                                         std::size_t n) noexcept {
  return avx512_count(src_two<Op>{a, b}, 0, n);
}

B2BSEG_TARGET_AVX512VPOPCNT inline std::size_t avx512_count_runs(const std::uint64_t* a,
                                                                 std::size_t n) noexcept {
  if (n == 0) return 0;
  return static_cast<std::size_t>(__builtin_popcountll(a[0] & ~(a[0] << 1))) +
         avx512_count(src_run_starts{a}, 1, n);
}

/// Writes a word's ids 16 bits at a time: VPCOMPRESSD packs the ids of the set bits into a
/// vector, stored whole (junk past the count, at most 64 + 16 slots). Zero words are skipped
/// eight at a time; exact decoding once fewer than 80 slots remain before cap.
B2BSEG_TARGET_AVX512F inline std::size_t avx512_decode(const std::uint64_t* w, std::size_t n_words,
                                                       std::uint32_t base, std::uint32_t* out,
                                                       std::size_t cap) noexcept {
  const __m512i iota = _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
  const __m512i sixteen = _mm512_set1_epi32(16);
  std::size_t n = 0, i = 0;
  for (; i + 8 <= n_words; i += 8) {
    const __m512i block = _mm512_loadu_si512(w + i);
    unsigned nonzero = _mm512_test_epi64_mask(block, block);
    while (nonzero != 0) {
      const std::size_t k = i + static_cast<std::size_t>(std::countr_zero(nonzero));
      if (n + 80 > cap) return n + decode_exact(w + k, n_words - k, base + 64 * k, out + n);
      const std::uint64_t x = w[k];
      __m512i ids = _mm512_add_epi32(
          iota, _mm512_set1_epi32(static_cast<int>(static_cast<std::uint32_t>(base + 64 * k))));
      for (int q = 0; q < 4; ++q) {
        const auto m = static_cast<__mmask16>(x >> (16 * q));
        _mm512_storeu_si512(out + n, _mm512_maskz_compress_epi32(m, ids));
        n += static_cast<std::size_t>(__builtin_popcount(m));
        ids = _mm512_add_epi32(ids, sixteen);
      }
      nonzero &= nonzero - 1;
    }
  }
  return n + decode_exact(w + i, n_words - i, base + 64 * i, out + n);
}

inline constexpr simd_kernels avx512bw_kernels{simd_level::avx512bw,
                                               &avx512_binop<op_and>,
                                               &avx512_binop<op_or>,
                                               &avx512_binop<op_andnot>,
                                               &avx512_binop<op_xor>,
                                               &avx512_not,
                                               &avx512bw_popcount,
                                               &avx512bw_popcount2<op_and>,
                                               &avx512bw_popcount2<op_or>,
                                               &avx512bw_popcount2<op_andnot>,
                                               &avx512bw_popcount2<op_xor>,
                                               &avx512bw_count_runs,
                                               &avx512_decode};

inline constexpr simd_kernels avx512_kernels{simd_level::avx512,
                                             &avx512_binop<op_and>,
                                             &avx512_binop<op_or>,
                                             &avx512_binop<op_andnot>,
                                             &avx512_binop<op_xor>,
                                             &avx512_not,
                                             &avx512_popcount,
                                             &avx512_popcount2<op_and>,
                                             &avx512_popcount2<op_or>,
                                             &avx512_popcount2<op_andnot>,
                                             &avx512_popcount2<op_xor>,
                                             &avx512_count_runs,
                                             &avx512_decode};

#endif  // B2BSEG_SIMD_X86

/// Whether this CPU and OS can run `level` (cpuid and XGETBV, through the compiler's runtime).
inline bool cpu_supports(simd_level level) noexcept {
#if B2BSEG_SIMD_X86
  __builtin_cpu_init();  // idempotent; needed when called before static constructors ran
  switch (level) {
    case simd_level::scalar:
      return true;
    case simd_level::avx2:
      return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("bmi") &&
             __builtin_cpu_supports("popcnt");
    case simd_level::avx512bw:
      return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
             __builtin_cpu_supports("popcnt");
    case simd_level::avx512:
      return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512vpopcntdq") &&
             __builtin_cpu_supports("popcnt");
  }
  return false;
#else
  return level == simd_level::scalar;
#endif
}

/// The kernel table of a level; the caller checked `cpu_supports(level)`.
inline const simd_kernels& kernels_for([[maybe_unused]] simd_level level) noexcept {
#if B2BSEG_SIMD_X86
  switch (level) {
    case simd_level::scalar:
      return scalar_kernels;
    case simd_level::avx2:
      return avx2_kernels;
    case simd_level::avx512bw:
      return avx512bw_kernels;
    case simd_level::avx512:
      return avx512_kernels;
  }
#endif
  return scalar_kernels;
}

/// The best supported level, capped by the environment variable B2BSEG_SIMD when it names a level
/// ("scalar", "avx2", "avx512bw", "avx512"); an unknown name is ignored.
inline simd_level choose_simd_level() noexcept {
  simd_level cap = simd_level::avx512;
  if (const char* env = std::getenv("B2BSEG_SIMD")) {
    for (simd_level l : all_simd_levels)
      if (std::string_view(env) == simd_level_name(l)) cap = l;
  }
  for (int l = static_cast<int>(cap); l > 0; --l)
    if (cpu_supports(static_cast<simd_level>(l))) return static_cast<simd_level>(l);
  return simd_level::scalar;
}

/// The kernels in use; null until first use. Constant-initialized, so safe from static
/// constructors of other translation units.
inline std::atomic<const simd_kernels*> active_kernels_ptr{nullptr};

/// The kernels in use, choosing them on first call. O(1), thread-safe.
inline const simd_kernels& active_kernels() noexcept {
  const simd_kernels* k = active_kernels_ptr.load(std::memory_order_acquire);
  if (k == nullptr) [[unlikely]] {
    const simd_kernels* chosen = &kernels_for(choose_simd_level());
    // A concurrent force_simd_level wins over the automatic choice.
    if (active_kernels_ptr.compare_exchange_strong(k, chosen, std::memory_order_acq_rel))
      k = chosen;
  }
  return *k;
}

/// Makes every kernel call use `level` (for tests and benchmarks). Thread-safe: calls already
/// running finish at their old level; all levels give identical results.
/// Throws std::invalid_argument when the CPU cannot run `level`.
inline void force_simd_level(simd_level level) {
  if (!cpu_supports(level))
    throw std::invalid_argument(std::string("b2bseg: this CPU cannot run SIMD level ") +
                                simd_level_name(level));
  active_kernels_ptr.store(&kernels_for(level), std::memory_order_release);
}

/// Goes back to the automatic choice (best supported level, capped by B2BSEG_SIMD).
inline void reset_simd_level() noexcept {
  active_kernels_ptr.store(&kernels_for(choose_simd_level()), std::memory_order_release);
}

}  // namespace detail

/// Whether this CPU (and OS) can run `level`. O(1) after the first call.
inline bool simd_level_supported(simd_level level) noexcept {
  return detail::cpu_supports(level);
}

/// The level the kernels run at now. O(1).
inline simd_level active_simd_level() noexcept {
  return detail::active_kernels().level;
}

/// The name of the level the kernels run at now: "avx512", "avx512bw", "avx2" or "scalar".
inline const char* simd_level_name() noexcept {
  return simd_level_name(active_simd_level());
}

// ---- the kernels. n_words may be 0 (pointers then unused) and pointers need no alignment
// (64-byte alignment, as bitset gives, is fastest). dst may be exactly a or b, but must not
// overlap them otherwise. O(n_words), no allocation, never throw. -----------------------------

/// dst[i] = a[i] & b[i] for i < n_words.
inline void and_words(std::uint64_t* dst, const std::uint64_t* a, const std::uint64_t* b,
                      std::size_t n_words) noexcept {
  detail::active_kernels().and_words(dst, a, b, n_words);
}

/// dst[i] = a[i] | b[i] for i < n_words.
inline void or_words(std::uint64_t* dst, const std::uint64_t* a, const std::uint64_t* b,
                     std::size_t n_words) noexcept {
  detail::active_kernels().or_words(dst, a, b, n_words);
}

/// dst[i] = a[i] & ~b[i] for i < n_words.
inline void andnot_words(std::uint64_t* dst, const std::uint64_t* a, const std::uint64_t* b,
                         std::size_t n_words) noexcept {
  detail::active_kernels().andnot_words(dst, a, b, n_words);
}

/// dst[i] = a[i] ^ b[i] for i < n_words.
inline void xor_words(std::uint64_t* dst, const std::uint64_t* a, const std::uint64_t* b,
                      std::size_t n_words) noexcept {
  detail::active_kernels().xor_words(dst, a, b, n_words);
}

/// dst[i] = ~a[i] for i < n_words.
inline void not_words(std::uint64_t* dst, const std::uint64_t* a, std::size_t n_words) noexcept {
  detail::active_kernels().not_words(dst, a, n_words);
}

/// Number of set bits in a[0, n_words).
inline std::size_t popcount_words(const std::uint64_t* a, std::size_t n_words) noexcept {
  return detail::active_kernels().popcount_words(a, n_words);
}

/// Number of set bits in a & b over n_words, without writing the intersection.
inline std::size_t and_popcount_words(const std::uint64_t* a, const std::uint64_t* b,
                                      std::size_t n_words) noexcept {
  return detail::active_kernels().and_popcount_words(a, b, n_words);
}

/// Number of set bits in a | b over n_words, without writing the union.
inline std::size_t or_popcount_words(const std::uint64_t* a, const std::uint64_t* b,
                                     std::size_t n_words) noexcept {
  return detail::active_kernels().or_popcount_words(a, b, n_words);
}

/// Number of set bits in a & ~b over n_words, without writing the difference.
inline std::size_t andnot_popcount_words(const std::uint64_t* a, const std::uint64_t* b,
                                         std::size_t n_words) noexcept {
  return detail::active_kernels().andnot_popcount_words(a, b, n_words);
}

/// Number of set bits in a ^ b over n_words, without writing the symmetric difference.
inline std::size_t xor_popcount_words(const std::uint64_t* a, const std::uint64_t* b,
                                      std::size_t n_words) noexcept {
  return detail::active_kernels().xor_popcount_words(a, b, n_words);
}

/// Number of maximal runs of consecutive set bits in a[0, n_words) read as one bit string
/// (bit 0 of a[0] first). Used to pick Roaring run containers.
inline std::size_t count_runs_words(const std::uint64_t* a, std::size_t n_words) noexcept {
  return detail::active_kernels().count_runs_words(a, n_words);
}

/// Writes base + (position of each set bit) of words[0, n_words), ascending, to out; returns how
/// many. `cap` is the room in out, at least the number of set bits: slots between that number and
/// cap may be overwritten with junk. base + 64 * n_words must not exceed 2^32. Threads may decode
/// disjoint word ranges into disjoint parts of one array. O(n_words + ids). Never throws.
inline std::size_t decode_words(const std::uint64_t* words, std::size_t n_words, std::uint32_t base,
                                std::uint32_t* out, std::size_t cap) noexcept {
  return detail::active_kernels().decode_words(words, n_words, base, out, cap);
}

}  // namespace b2bseg
