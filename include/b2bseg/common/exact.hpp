// Exact arithmetic for aggregates: 128-bit sums of int64 values and exact comparisons of a sum or
// an average with a literal, so that no sum wraps and no comparison rounds.
#pragma once

#include <bit>
#include <charconv>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <string>

namespace b2bseg::detail {

using int128 = __int128;
using uint128 = unsigned __int128;

/// Sign of `s / n - v`, exactly: -1, 0 or 1. `n` >= 1; `v` finite (a long double holds every
/// int64 and every double exactly, so literals of either kind compare without rounding). Exact
/// for every `s` (a sum of up to 2^63 int64 values fits). O(1), no allocation.
inline int compare_ratio(int128 s, std::uint64_t n, long double v) noexcept {
  // s / n = q + r / n with q = floor(s / n), 0 <= r < n.
  int128 q = s / static_cast<int128>(n);
  int128 r = s % static_cast<int128>(n);
  if (r < 0) {
    r += static_cast<int128>(n);
    q -= 1;
  }
  // v = fv + frac with fv = floor(v), 0 <= frac < 1. |q| < 2^127 bounds the integral parts.
  const long double fv = std::floor(v);
  const long double two127 = std::ldexp(1.0L, 127);
  if (fv >= two127) return -1;
  if (fv < -two127) return 1;
  const auto fi = static_cast<int128>(fv);  // exact: an integral long double within range
  if (q != fi) return q < fi ? -1 : 1;
  const long double frac = v - fv;  // exact: the fraction of a binary floating-point number
  const auto rr = static_cast<std::uint64_t>(r);
  if (rr == 0) return frac > 0 ? -1 : 0;
  if (frac == 0) return 1;
  // frac = F * 2^-m with F < 2^64 and m >= 64: compare r * 2^m with F * n (< 2^128).
  int e = 0;
  const long double mant = std::frexp(frac, &e);  // frac = mant * 2^e, 0.5 <= mant < 1, e <= 0
  const auto F = static_cast<std::uint64_t>(std::ldexp(mant, 64));
  const int m = 64 - e;
  const uint128 rhs = static_cast<uint128>(F) * n;
  if (std::bit_width(rr) + m > 128) return 1;  // r * 2^m >= 2^128 > F * n
  const uint128 lhs = static_cast<uint128>(rr) << m;
  return lhs < rhs ? -1 : (lhs > rhs ? 1 : 0);
}

/// Sign of `s - v`, exactly (see compare_ratio).
inline int compare_exact(int128 s, long double v) noexcept {
  return compare_ratio(s, 1, v);
}

/// `a + b`, clamped to the int64 range instead of wrapping: `now + D` past the last timestamp
/// stays after every timestamp, `now - D` before the first stays before every one. O(1).
constexpr std::int64_t saturating_add(std::int64_t a, std::int64_t b) noexcept {
  std::int64_t r = 0;
  if (!__builtin_add_overflow(a, b, &r)) return r;
  return b > 0 ? std::numeric_limits<std::int64_t>::max()
               : std::numeric_limits<std::int64_t>::min();
}

/// The double nearest to s / n (n >= 1), ties to even: rounded once, exactly. O(1).
inline double nearest_double(int128 s, std::uint64_t n) noexcept {
  double d = static_cast<double>(static_cast<long double>(s) / static_cast<long double>(n));
  for (int step = 0; step < 4; ++step) {  // d is within an ulp or two of the answer
    const double up = std::nextafter(d, HUGE_VAL), down = std::nextafter(d, -HUGE_VAL);
    const long double mid_up = (static_cast<long double>(d) + up) / 2;
    const long double mid_down = (static_cast<long double>(d) + down) / 2;
    const int cu = compare_ratio(s, n, mid_up), cd = compare_ratio(s, n, mid_down);
    std::int64_t bits = 0;
    std::memcpy(&bits, &d, sizeof d);
    const bool even = (bits & 1) == 0;
    if (cu > 0 || (cu == 0 && !even)) {
      d = up;
    } else if (cd < 0 || (cd == 0 && !even)) {
      d = down;
    } else {
      break;
    }
  }
  return d;
}

/// Appends `v` in decimal.
inline void append_int128(std::string& out, int128 v) {
  char buf[48];
  char* p = buf + sizeof buf;
  const bool neg = v < 0;
  uint128 u = neg ? static_cast<uint128>(0) - static_cast<uint128>(v) : static_cast<uint128>(v);
  do {
    *--p = static_cast<char>('0' + static_cast<int>(u % 10));
    u /= 10;
  } while (u != 0);
  if (neg) *--p = '-';
  out.append(p, buf + sizeof buf);
}

/// The shortest decimal that reads back as `d`, in plain notation (`1000000`, `0.00000025`).
inline void append_double(std::string& out, double d) {
  char buf[400];
  auto r = std::to_chars(buf, buf + sizeof buf, d, std::chars_format::fixed);
  out.append(buf, r.ptr);
}

}  // namespace b2bseg::detail
