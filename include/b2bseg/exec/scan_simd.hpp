// Scan kernels with runtime SIMD dispatch: numeric range tests into bitset words, parents' bits
// gathered per child over a to-one link, and counts of set bits per parent over a clustered link.
#pragma once

#include <cstddef>
#include <cstdint>
#include <type_traits>
#include <vector>

#include "b2bseg/exec/simd.hpp"

namespace b2bseg::detail {

/// Writes words [w0, w1) of `out`: bit i set when lo <= v[i] <= hi, for rows i < n (bits at or
/// beyond n are zero). T is std::int64_t, double, or an unsigned 1, 2 or 4-byte integer. noexcept;
/// reads v[64*w0 .. min(n, 64*w1)).
template <class T>
void range_words_scalar(const T* __restrict v, std::size_t n, T lo, T hi,
                        std::uint64_t* __restrict out, std::size_t w0, std::size_t w1) noexcept {
  for (std::size_t k = w0; k < w1; ++k) {
    const std::size_t base = k * 64;
    const std::size_t lim = n - base < 64 ? n - base : 64;
    std::uint64_t bits = 0;
    if (lim == 64) {
      for (std::size_t j = 0; j < 64; ++j)
        bits |= std::uint64_t(lo <= v[base + j] && v[base + j] <= hi) << j;
    } else {
      for (std::size_t j = 0; j < lim; ++j)
        bits |= std::uint64_t(lo <= v[base + j] && v[base + j] <= hi) << j;
    }
    out[k] = bits;
  }
}

/// Set bits of `bits` before position i, given rank[w - w0]: the set bits in words [w0, w). The
/// word at n_words reads as 0 (then i % 64 == 0 anyway). Always inlined, as range_counts_rank.
[[gnu::always_inline]] inline std::int64_t rank_before(const std::uint32_t* rank, std::size_t w0,
                                                       const std::uint64_t* bits,
                                                       std::size_t n_words,
                                                       std::size_t i) noexcept {
  const std::size_t w = i >> 6;
  const std::uint64_t word = w < n_words ? bits[w] : 0;
  return static_cast<std::int64_t>(rank[w - w0]) +
         __builtin_popcountll(word & ((std::uint64_t{1} << (i & 63)) - 1));
}

/// Per parent p in [p0, p1): whether the count of set bits of `bits` in [off[p], off[p+1])
/// lies in [lo, hi]; written as bits of out (words [p0/64, ceil(p1/64)), p0 a multiple of 64).
/// `bits` holds `n_words` words and every off[p] <= 64 * n_words. Each count is the difference of
/// two ranks (set bits before a position): per block of 4096 parents, a prefix count per word of
/// the block's children, then one masked popcount per parent, with no branch per parent (a loop
/// over each parent's words mispredicted wherever a range crossed a word; bench_kernels
/// rev_count_clustered/person.events, 1 thread: 4.05 ms, now 1.32 ms). Allocates the prefix counts
/// of one block (4 bytes per 64 children). Always inlined, so that the bit count compiles to
/// what its caller's target has (the popcnt instruction in range_counts_popcnt).
[[gnu::always_inline]] inline void range_counts_rank(const std::uint64_t* __restrict bits,
                                                     std::size_t n_words,
                                                     const std::uint32_t* __restrict off,
                                                     std::size_t p0, std::size_t p1,
                                                     std::int64_t lo, std::int64_t hi,
                                                     std::uint64_t* __restrict out) {
  constexpr std::size_t block = 4096;  // parents per prefix count: it stays in L1
  std::vector<std::uint32_t> rank;
  for (std::size_t b0 = p0; b0 < p1; b0 += block) {
    const std::size_t b1 = p1 - b0 < block ? p1 : b0 + block;
    // rank[k]: set bits in words [w0, w0 + k) (w1 may be n_words, when off[b1] is the end).
    const std::size_t w0 = off[b0] >> 6, w1 = off[b1] >> 6;
    rank.resize(w1 - w0 + 1);
    std::uint32_t acc = 0;
    for (std::size_t w = w0; w < w1; ++w) {
      rank[w - w0] = acc;
      acc += static_cast<std::uint32_t>(__builtin_popcountll(bits[w]));
    }
    rank[w1 - w0] = acc;
    std::int64_t prev = rank_before(rank.data(), w0, bits, n_words, off[b0]);
    for (std::size_t base = b0; base < b1; base += 64) {
      const std::size_t lim = b1 - base < 64 ? b1 - base : 64;
      std::uint64_t word = 0;
      for (std::size_t j = 0; j < lim; ++j) {
        const std::int64_t cur = rank_before(rank.data(), w0, bits, n_words, off[base + j + 1]);
        const std::int64_t c = cur - prev;
        prev = cur;
        word |= std::uint64_t(lo <= c && c <= hi) << j;
      }
      out[base / 64] = word;
    }
  }
}

/// Writes words [w0, w1) of `out`: bit i set when parent par[i] (no_row: none) has its bit set in
/// `in`, for rows i < n (bits at or beyond n are zero). Every parent other than no_row must be a
/// bit of `in`. noexcept; reads par[64*w0 .. min(n, 64*w1)).
inline void gather_bits_scalar(const std::uint32_t* __restrict par, std::size_t n,
                               const std::uint64_t* __restrict in, std::uint64_t* __restrict out,
                               std::size_t w0, std::size_t w1) noexcept {
  for (std::size_t k = w0; k < w1; ++k) {
    const std::size_t base = k * 64, lim = n - base < 64 ? n - base : 64;
    const std::uint32_t* pr = par + base;
    std::uint64_t bits = 0;
    for (std::size_t j = 0; j < lim; ++j) {
      const std::uint32_t p = pr[j];
      bits |= (p != ~std::uint32_t{0} ? (in[p >> 6] >> (p & 63)) & 1 : 0) << j;
    }
    out[k] = bits;
  }
}

#if B2BSEG_SIMD_X86
B2BSEG_TARGET_AVX512F inline void range_words_avx512(const std::int64_t* __restrict v,
                                                     std::size_t n, std::int64_t lo,
                                                     std::int64_t hi, std::uint64_t* __restrict out,
                                                     std::size_t w0, std::size_t w1) noexcept {
  const __m512i vlo = _mm512_set1_epi64(lo), vhi = _mm512_set1_epi64(hi);
  std::size_t k = w0;
  for (; k < w1 && (k + 1) * 64 <= n; ++k) {
    const std::int64_t* p = v + k * 64;
    std::uint64_t bits = 0;
    for (int j = 0; j < 8; ++j) {
      __m512i x = _mm512_loadu_si512(p + 8 * j);
      __mmask8 m = _mm512_cmpge_epi64_mask(x, vlo) & _mm512_cmple_epi64_mask(x, vhi);
      bits |= std::uint64_t(m) << (8 * j);
    }
    out[k] = bits;
  }
  if (k < w1) range_words_scalar(v, n, lo, hi, out, k, w1);
}

B2BSEG_TARGET_AVX512F inline void range_words_avx512(const double* __restrict v, std::size_t n,
                                                     double lo, double hi,
                                                     std::uint64_t* __restrict out, std::size_t w0,
                                                     std::size_t w1) noexcept {
  const __m512d vlo = _mm512_set1_pd(lo), vhi = _mm512_set1_pd(hi);
  std::size_t k = w0;
  for (; k < w1 && (k + 1) * 64 <= n; ++k) {
    const double* p = v + k * 64;
    std::uint64_t bits = 0;
    for (int j = 0; j < 8; ++j) {
      __m512d x = _mm512_loadu_pd(p + 8 * j);
      __mmask8 m = _mm512_cmp_pd_mask(x, vlo, _CMP_GE_OQ) & _mm512_cmp_pd_mask(x, vhi, _CMP_LE_OQ);
      bits |= std::uint64_t(m) << (8 * j);
    }
    out[k] = bits;
  }
  if (k < w1) range_words_scalar(v, n, lo, hi, out, k, w1);
}

B2BSEG_TARGET_AVX2 inline void range_words_avx2(const std::int64_t* __restrict v, std::size_t n,
                                                std::int64_t lo, std::int64_t hi,
                                                std::uint64_t* __restrict out, std::size_t w0,
                                                std::size_t w1) noexcept {
  const __m256i vlo = _mm256_set1_epi64x(lo), vhi = _mm256_set1_epi64x(hi);
  std::size_t k = w0;
  for (; k < w1 && (k + 1) * 64 <= n; ++k) {
    const std::int64_t* p = v + k * 64;
    std::uint64_t bits = 0;
    for (int j = 0; j < 16; ++j) {
      __m256i x = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p + 4 * j));
      __m256i out_of = _mm256_or_si256(_mm256_cmpgt_epi64(vlo, x), _mm256_cmpgt_epi64(x, vhi));
      unsigned m = ~static_cast<unsigned>(_mm256_movemask_pd(_mm256_castsi256_pd(out_of))) & 0xFu;
      bits |= std::uint64_t(m) << (4 * j);
    }
    out[k] = bits;
  }
  if (k < w1) range_words_scalar(v, n, lo, hi, out, k, w1);
}

B2BSEG_TARGET_AVX2 inline void range_words_avx2(const double* __restrict v, std::size_t n,
                                                double lo, double hi, std::uint64_t* __restrict out,
                                                std::size_t w0, std::size_t w1) noexcept {
  const __m256d vlo = _mm256_set1_pd(lo), vhi = _mm256_set1_pd(hi);
  std::size_t k = w0;
  for (; k < w1 && (k + 1) * 64 <= n; ++k) {
    const double* p = v + k * 64;
    std::uint64_t bits = 0;
    for (int j = 0; j < 16; ++j) {
      __m256d x = _mm256_loadu_pd(p + 4 * j);
      __m256d in =
          _mm256_and_pd(_mm256_cmp_pd(x, vlo, _CMP_GE_OQ), _mm256_cmp_pd(x, vhi, _CMP_LE_OQ));
      bits |= std::uint64_t(_mm256_movemask_pd(in)) << (4 * j);
    }
    out[k] = bits;
  }
  if (k < w1) range_words_scalar(v, n, lo, hi, out, k, w1);
}

/// `range_words` for the narrow stored values of an `int_array` (unsigned 1, 2 or 4 bytes): one
/// unsigned comparison per value, `x - lo <= hi - lo`, 32, 16 or 8 values per AVX2 instruction.
B2BSEG_TARGET_AVX2 inline void range_words_avx2(const std::uint8_t* __restrict v, std::size_t n,
                                                std::uint8_t lo, std::uint8_t hi,
                                                std::uint64_t* __restrict out, std::size_t w0,
                                                std::size_t w1) noexcept {
  const __m256i vlo = _mm256_set1_epi8(static_cast<char>(lo));
  const __m256i span = _mm256_set1_epi8(static_cast<char>(hi - lo));
  std::size_t k = w0;
  for (; k < w1 && (k + 1) * 64 <= n; ++k) {
    const std::uint8_t* p = v + k * 64;
    std::uint64_t bits = 0;
    for (int j = 0; j < 2; ++j) {
      __m256i d =
          _mm256_sub_epi8(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(p + 32 * j)), vlo);
      __m256i in = _mm256_cmpeq_epi8(_mm256_min_epu8(d, span), d);
      bits |= std::uint64_t(static_cast<std::uint32_t>(_mm256_movemask_epi8(in))) << (32 * j);
    }
    out[k] = bits;
  }
  if (k < w1) range_words_scalar(v, n, lo, hi, out, k, w1);
}

B2BSEG_TARGET_AVX2 inline void range_words_avx2(const std::uint16_t* __restrict v, std::size_t n,
                                                std::uint16_t lo, std::uint16_t hi,
                                                std::uint64_t* __restrict out, std::size_t w0,
                                                std::size_t w1) noexcept {
  const __m256i vlo = _mm256_set1_epi16(static_cast<short>(lo));
  const __m256i span = _mm256_set1_epi16(static_cast<short>(hi - lo));
  std::size_t k = w0;
  for (; k < w1 && (k + 1) * 64 <= n; ++k) {
    const std::uint16_t* p = v + k * 64;
    std::uint64_t bits = 0;
    for (int j = 0; j < 2; ++j) {
      // Two masks of 16 lanes packed to bytes (in 128-bit halves), put back in row order.
      const auto* q = reinterpret_cast<const __m256i*>(p + 32 * j);
      __m256i a = _mm256_sub_epi16(_mm256_loadu_si256(q), vlo);
      __m256i b = _mm256_sub_epi16(_mm256_loadu_si256(q + 1), vlo);
      a = _mm256_cmpeq_epi16(_mm256_min_epu16(a, span), a);
      b = _mm256_cmpeq_epi16(_mm256_min_epu16(b, span), b);
      __m256i packed = _mm256_packs_epi16(a, b);
      packed = _mm256_permute4x64_epi64(packed, 0xD8);
      bits |= std::uint64_t(static_cast<std::uint32_t>(_mm256_movemask_epi8(packed))) << (32 * j);
    }
    out[k] = bits;
  }
  if (k < w1) range_words_scalar(v, n, lo, hi, out, k, w1);
}

B2BSEG_TARGET_AVX2 inline void range_words_avx2(const std::uint32_t* __restrict v, std::size_t n,
                                                std::uint32_t lo, std::uint32_t hi,
                                                std::uint64_t* __restrict out, std::size_t w0,
                                                std::size_t w1) noexcept {
  const __m256i vlo = _mm256_set1_epi32(static_cast<int>(lo));
  const __m256i span = _mm256_set1_epi32(static_cast<int>(hi - lo));
  std::size_t k = w0;
  for (; k < w1 && (k + 1) * 64 <= n; ++k) {
    const std::uint32_t* p = v + k * 64;
    std::uint64_t bits = 0;
    for (int j = 0; j < 8; ++j) {
      __m256i d =
          _mm256_sub_epi32(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(p + 8 * j)), vlo);
      __m256i in = _mm256_cmpeq_epi32(_mm256_min_epu32(d, span), d);
      bits |= std::uint64_t(_mm256_movemask_ps(_mm256_castsi256_ps(in))) << (8 * j);
    }
    out[k] = bits;
  }
  if (k < w1) range_words_scalar(v, n, lo, hi, out, k, w1);
}

/// gather_bits with AVX2: 8 parents at a time, each one's 32-bit word of `in` gathered (no_row
/// masked out), shifted to its bit, the 8 bits taken with a movemask. 3.4x the scalar loop
/// (bench_kernels to_one/event.person, 1 thread: 11.0 ms, now 3.2 ms).
B2BSEG_TARGET_AVX2 inline void gather_bits_avx2(const std::uint32_t* __restrict par, std::size_t n,
                                                const std::uint64_t* __restrict in,
                                                std::uint64_t* __restrict out, std::size_t w0,
                                                std::size_t w1) noexcept {
  const int* in32 = reinterpret_cast<const int*>(in);  // bit p is bit p % 32 of dword p / 32
  const __m256i none = _mm256_set1_epi32(-1), low5 = _mm256_set1_epi32(31);
  std::size_t k = w0;
  for (; k < w1 && (k + 1) * 64 <= n; ++k) {
    const std::uint32_t* pr = par + k * 64;
    std::uint64_t bits = 0;
    for (int j = 0; j < 8; ++j) {
      const __m256i p = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(pr + 8 * j));
      const __m256i valid = _mm256_xor_si256(_mm256_cmpeq_epi32(p, none), none);
      const __m256i word = _mm256_mask_i32gather_epi32(_mm256_setzero_si256(), in32,
                                                       _mm256_srli_epi32(p, 5), valid, 4);
      const __m256i bit = _mm256_slli_epi32(_mm256_srlv_epi32(word, _mm256_and_si256(p, low5)), 31);
      bits |= std::uint64_t(_mm256_movemask_ps(_mm256_castsi256_ps(bit))) << (8 * j);
    }
    out[k] = bits;
  }
  if (k < w1) gather_bits_scalar(par, n, in, out, k, w1);
}

/// range_counts_rank with the popcnt instruction.
B2BSEG_TARGET_AVX2 inline void range_counts_popcnt(const std::uint64_t* __restrict bits,
                                                   std::size_t n_words,
                                                   const std::uint32_t* __restrict off,
                                                   std::size_t p0, std::size_t p1, std::int64_t lo,
                                                   std::int64_t hi,
                                                   std::uint64_t* __restrict out) noexcept {
  range_counts_rank(bits, n_words, off, p0, p1, lo, hi, out);
}
#endif

/// Dispatches `range_words_*` on the active SIMD level.
template <class T>
requires(!std::is_unsigned_v<T>) void range_words(const T* v, std::size_t n, T lo, T hi,
                                                  std::uint64_t* out, std::size_t w0,
                                                  std::size_t w1) noexcept {
#if B2BSEG_SIMD_X86
  switch (active_simd_level()) {
    case simd_level::avx512:
    case simd_level::avx512bw:
      return range_words_avx512(v, n, lo, hi, out, w0, w1);
    case simd_level::avx2:
      return range_words_avx2(v, n, lo, hi, out, w0, w1);
    default:
      break;
  }
#endif
  range_words_scalar(v, n, lo, hi, out, w0, w1);
}

/// Dispatches `range_words_*` for unsigned 1, 2 or 4-byte values (AVX2 on every x86 SIMD level).
template <class T>
requires std::is_unsigned_v<T>
void range_words(const T* v, std::size_t n, T lo, T hi, std::uint64_t* out, std::size_t w0,
                 std::size_t w1) noexcept {
#if B2BSEG_SIMD_X86
  if (active_simd_level() != simd_level::scalar) return range_words_avx2(v, n, lo, hi, out, w0, w1);
#endif
  range_words_scalar(v, n, lo, hi, out, w0, w1);
}

/// Dispatches `gather_bits_*` (AVX2 on every x86 SIMD level).
inline void gather_bits(const std::uint32_t* par, std::size_t n, const std::uint64_t* in,
                        std::uint64_t* out, std::size_t w0, std::size_t w1) noexcept {
#if B2BSEG_SIMD_X86
  if (active_simd_level() != simd_level::scalar) return gather_bits_avx2(par, n, in, out, w0, w1);
#endif
  gather_bits_scalar(par, n, in, out, w0, w1);
}

/// Dispatches `range_counts_*` on the active SIMD level (AVX2 implies popcnt).
inline void range_counts(const std::uint64_t* bits, std::size_t n_words, const std::uint32_t* off,
                         std::size_t p0, std::size_t p1, std::int64_t lo, std::int64_t hi,
                         std::uint64_t* out) {
#if B2BSEG_SIMD_X86
  if (active_simd_level() != simd_level::scalar)
    return range_counts_popcnt(bits, n_words, off, p0, p1, lo, hi, out);
#endif
  range_counts_rank(bits, n_words, off, p0, p1, lo, hi, out);  // a portable bit count here
}

}  // namespace b2bseg::detail
