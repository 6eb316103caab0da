// Evaluation kernels: each plan node kind computed into a flat bitset, split by id ranges over
// oneTBB tasks, with thread-private output words (ranges never share a word).
#pragma once

#include <tbb/blocked_range.h>
#include <tbb/parallel_for.h>
#include <roaring/roaring.hh>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <optional>
#include <string_view>
#include <type_traits>
#include <vector>

#include "b2bseg/common/bucket.hpp"
#include "b2bseg/common/exact.hpp"
#include "b2bseg/exec/bitset.hpp"
#include "b2bseg/exec/graph_rows.hpp"
#include "b2bseg/exec/like.hpp"
#include "b2bseg/exec/parallel.hpp"
#include "b2bseg/exec/rank.hpp"
#include "b2bseg/exec/scan_simd.hpp"
#include "b2bseg/plan/plan.hpp"
#include "b2bseg/storage/graph.hpp"

namespace b2bseg::detail {

/// Runs f(w0, w1) over word ranges of a bitset of `n_bits` bits, in parallel. Each range owns its
/// words, so f may write them without synchronization.
template <class F>
void parallel_words(std::size_t n_bits, F&& f) {
  const std::size_t n_words = (n_bits + 63) / 64;
  if (n_words <= 2048) {
    f(std::size_t(0), n_words);
    return;
  }
  b2bseg::detail::parallel_for(
      tbb::blocked_range<std::size_t>(0, n_words, 1024),
      [&](const tbb::blocked_range<std::size_t>& r) { f(r.begin(), r.end()); });
}

/// Sets bit i of `out` to pred(i) for every row i < n, in parallel.
template <class Pred>
void fill_by_row(bitset& out, std::size_t n, Pred&& pred) {
  std::uint64_t* w = out.words();
  parallel_words(n, [&](std::size_t w0, std::size_t w1) {
    for (std::size_t k = w0; k < w1; ++k) {
      const std::size_t base = k * 64;
      const std::size_t lim = std::min<std::size_t>(64, n - base);
      std::uint64_t bits = 0;
      for (std::size_t j = 0; j < lim; ++j) bits |= std::uint64_t(pred(base + j) ? 1 : 0) << j;
      w[k] = bits;
    }
  });
}

/// out &= ~r, with r a Roaring bitmap over the same rows.
inline void andnot_roaring(bitset& out, const Roaring& r) {
  if (r.isEmpty()) return;
  if (r.cardinality() * 64 < out.size()) {
    for (auto it = r.begin(); it != r.end(); ++it) out.reset(*it);
    return;
  }
  bitset tmp = to_bitset(&r.roaring, out.size());
  out.andnot_with(tmp);
}

inline bool cmp(cmp_op op, int c) noexcept {  // c = sign of (x - v)
  switch (op) {
    case cmp_op::eq:
      return c == 0;
    case cmp_op::ne:
      return c != 0;
    case cmp_op::lt:
      return c < 0;
    case cmp_op::le:
      return c <= 0;
    case cmp_op::gt:
      return c > 0;
    case cmp_op::ge:
      return c >= 0;
  }
  return false;
}
template <class T>
inline int sign3(T a, T b) noexcept {
  return (a > b) - (a < b);
}

/// A numeric value as long double, exact for every int64 and double.
inline long double exact_number(const column& c, row_id r) noexcept {
  return c.type() == value_type::floating ? static_cast<long double>(c.floats()[r])
                                          : static_cast<long double>(c.ints()[r]);
}

/// An inclusive int64 range equivalent to `x op v` for integers x (v may be fractional);
/// `ne` sets `exclude` instead. `empty` when nothing can match.
struct int_range {
  std::int64_t lo = std::numeric_limits<std::int64_t>::min();
  std::int64_t hi = std::numeric_limits<std::int64_t>::max();
  bool empty = false;
  bool has_exclude = false;
  std::int64_t exclude = 0;
};

/// The int64 range equivalent to `x op v` for integers x and an exact value v (integral or not).
inline int_range int_range_of(cmp_op op, long double v) {
  int_range r;
  constexpr std::int64_t min = std::numeric_limits<std::int64_t>::min();
  constexpr std::int64_t max = std::numeric_limits<std::int64_t>::max();
  const long double two63 = 9223372036854775808.0L;  // 2^63, exact in long double
  // Clamps an integral long double into int64; `below` / `above` say it fell outside.
  auto to_int = [&](long double x, bool& below, bool& above) -> std::int64_t {
    below = x < -two63;
    above = x >= two63;
    return below ? min : above ? max : static_cast<std::int64_t>(x);
  };
  bool below = false, above = false;
  const bool integral = std::floor(v) == v;
  switch (op) {
    case cmp_op::eq: {
      std::int64_t x = to_int(v, below, above);
      if (!integral || below || above)
        r.empty = true;
      else
        r.lo = r.hi = x;
      break;
    }
    case cmp_op::ne: {
      std::int64_t x = to_int(v, below, above);
      if (integral && !below && !above) {
        r.has_exclude = true;
        r.exclude = x;
      }
      break;
    }
    case cmp_op::lt:
    case cmp_op::le: {  // x <= floor(v), or x <= ceil(v) - 1 for lt
      long double h = op == cmp_op::le ? std::floor(v) : std::ceil(v) - 1;
      r.hi = to_int(h, below, above);
      if (below) r.empty = true;
      break;
    }
    case cmp_op::gt:
    case cmp_op::ge: {  // x >= floor(v) + 1, or x >= ceil(v) for ge
      long double l = op == cmp_op::ge ? std::ceil(v) : std::floor(v) + 1;
      r.lo = to_int(l, below, above);
      if (above) r.empty = true;
      break;
    }
  }
  if (r.lo > r.hi) r.empty = true;
  return r;
}

/// The stored form (of type T, as `int_array::with_stored` gives it) of value x, if one stands
/// for it; for T = int64 (plain values) x itself.
template <class T>
std::optional<T> stored_of(const int_array& a, std::int64_t x) noexcept {
  if constexpr (std::is_signed_v<T>) {
    return x;
  } else {
    const int128 d = int128(x) - a.base();
    if (d < 0 || d % a.scale() != 0 || d / a.scale() > int128(std::numeric_limits<T>::max()))
      return std::nullopt;
    return static_cast<T>(d / a.scale());
  }
}

/// The stored range [ulo, uhi] (type T) of the values in [lo, hi]; false when no stored T falls
/// in it.
template <class T>
bool stored_range(const int_array& a, std::int64_t lo, std::int64_t hi, T& ulo, T& uhi) noexcept {
  if constexpr (std::is_signed_v<T>) {
    ulo = lo;
    uhi = hi;
    return lo <= hi;
  } else {
    const int128 s = a.scale();
    int128 l = int128(lo) - a.base(), h = int128(hi) - a.base();
    if (h < 0) return false;
    l = l <= 0 ? 0 : (l + s - 1) / s;  // ceil for a positive distance
    h = std::min<int128>(h / s, int128(std::numeric_limits<T>::max()));
    if (l > h) return false;
    ulo = static_cast<T>(l);
    uhi = static_cast<T>(h);
    return true;
  }
}

/// The inclusive double range [lo, hi] equivalent to `x op v` for doubles x and an exact value v
/// (which a double may not hold: 2^53 + 1). `empty` when no double matches; `ne` is not a range.
inline bool double_range_of(cmp_op op, long double v, double& lo, double& hi) {
  const double inf = std::numeric_limits<double>::infinity();
  lo = -inf;
  hi = inf;
  double d = static_cast<double>(v);
  switch (op) {
    case cmp_op::eq:
      if (static_cast<long double>(d) != v) return false;
      lo = hi = d;
      return true;
    case cmp_op::lt:
      while (static_cast<long double>(d) >= v) d = std::nextafter(d, -inf);
      hi = d;
      return true;
    case cmp_op::le:
      while (static_cast<long double>(d) > v) d = std::nextafter(d, -inf);
      hi = d;
      return true;
    case cmp_op::gt:
      while (static_cast<long double>(d) <= v) d = std::nextafter(d, inf);
      lo = d;
      return true;
    case cmp_op::ge:
      while (static_cast<long double>(d) < v) d = std::nextafter(d, inf);
      lo = d;
      return true;
    case cmp_op::ne:
      return true;
  }
  return true;
}

inline int_range intersect(int_range a, const int_range& b) {
  a.lo = std::max(a.lo, b.lo);
  a.hi = std::min(a.hi, b.hi);
  a.empty = a.empty || b.empty || a.lo > a.hi;
  if (b.has_exclude) {
    a.has_exclude = true;
    a.exclude = b.exclude;
  }
  return a;
}

/// A compare, in_list or between predicate over integer values, as a range (with perhaps one
/// excluded value) or a sorted set of the values listed. Cost: O(literals log literals).
struct int_test {
  int_range range;
  bool list = false;  ///< in_list: test membership of `set` (negated: non-membership)
  bool negated = false;
  std::vector<std::int64_t> set;

  static int_test of(const scan_pred& p) {
    int_test t;
    if (p.k == scan_pred::kind::in_list) {
      t.list = true;
      t.negated = p.negated;
      for (const auto& l : p.values) {
        const int_range r = int_range_of(cmp_op::eq, literal_number(l));
        if (!r.empty) t.set.push_back(r.lo);
      }
      std::sort(t.set.begin(), t.set.end());
    } else if (p.k == scan_pred::kind::compare) {
      t.range = int_range_of(p.op, literal_number(p.values[0]));
    } else {
      t.range = intersect(int_range_of(cmp_op::ge, literal_number(p.values[0])),
                          int_range_of(cmp_op::le, literal_number(p.values[1])));
    }
    return t;
  }

  bool operator()(std::int64_t x) const noexcept {
    if (list) return std::binary_search(set.begin(), set.end(), x) != negated;
    if (range.empty) return false;
    if (range.has_exclude) return x != range.exclude;
    return range.lo <= x && x <= range.hi;
  }
};

/// Whether a value of type `t` compares `op` with literal `v`: the one definition of literal
/// comparison, shared by every scan (numbers numerically, strings byte-wise, false < true).
struct value_test {
  cmp_op op;
  const literal& v;
  bool operator()(std::string_view s) const noexcept {
    int c = s.compare(v.s);
    return cmp(op, (c > 0) - (c < 0));
  }
  bool operator()(bool b) const noexcept { return cmp(op, sign3<int>(b, v.b)); }
};

/// Rows of a string or string[] column whose value (for lists: some element) has a code with
/// `match[code]` set. Uses the value bitmaps when few codes match, a scan of codes otherwise.
inline bitset string_rows(const column& c, std::size_t n, const std::vector<std::uint8_t>& match) {
  std::size_t hits = 0;
  for (auto m : match) hits += m;
  bitset out(n);
  if (hits == 0) return out;
  if (c.has_value_bitmaps()) {
    // OR the matching values' bitmaps when they are few, or hold few rows together (then
    // setting their bits beats a pass over every row's code).
    bool use_bitmaps = hits <= 16;
    if (!use_bitmaps) {
      std::uint64_t rows = 0;
      for (std::uint32_t code = 0; code < match.size() && rows * 8 <= n; ++code)
        if (match[code]) rows += c.value_bitmap(code).cardinality();
      use_bitmaps = rows * 8 <= n;
    }
    if (use_bitmaps) {
      for (std::uint32_t code = 0; code < match.size(); ++code)
        if (match[code]) or_into(out, &c.value_bitmap(code).roaring);
      return out;
    }
  }
  if (c.type() == value_type::string) {
    const code_array& codes = c.codes();
    std::uint64_t* w = out.words();
    // Each word built in a register (match holds 0 or 1), with no branch on the match: a
    // read-modify-write of the word under a branch per row cost 3-5x (bench_kernels
    // scan_like/person.job_title, 1 thread: 2.68 ms, now 0.56 ms; `country not in (...)` in
    // `b2bseg explain` of the suite's q25 at 1M people: 2.1 ms, now 0.66 ms).
    parallel_words(n, [&](std::size_t w0, std::size_t w1) {
      const std::size_t r0 = w0 * 64, r1 = std::min(n, w1 * 64);
      std::uint64_t acc = 0;
      codes.for_range(r0, r1, [&](std::size_t i, std::uint32_t code) {
        acc |= std::uint64_t(match[code]) << (i & 63);
        if ((i & 63) == 63) {
          w[i >> 6] = acc;
          acc = 0;
        }
      });
      if (r1 & 63) w[r1 >> 6] = acc;  // the last word, partly filled
    });
    andnot_roaring(out, c.nulls());  // null rows hold an arbitrary code
  } else {
    fill_by_row(out, n, [&](std::size_t r) {
      for (auto code : c.list_at(static_cast<row_id>(r)))
        if (match[code]) return true;
      return false;
    });
  }
  return out;
}

/// Rows of `e` whose key's bucket (`p.bucket`) passes `p`'s int test: a hash of every key, in
/// parallel. O(rows x key length).
inline bitset eval_bucket(const graph& g, entity_id e, const scan_pred& p) {
  const std::size_t n = g.rows(e);
  const int_test test = int_test::of(p);
  bitset out(n);
  std::uint64_t* w = out.words();
  parallel_words(n, [&](std::size_t w0, std::size_t w1) {
    bucket_hasher bucket(p.bucket->salt, p.bucket->n);
    for (std::size_t k = w0; k < w1; ++k) {
      const std::size_t base = k * 64, lim = std::min<std::size_t>(64, n - base);
      std::uint64_t bits = 0;
      for (std::size_t j = 0; j < lim; ++j) {
        const auto b = static_cast<std::int64_t>(bucket(g.key(e, static_cast<row_id>(base + j))));
        bits |= std::uint64_t(test(b) ? 1 : 0) << j;
      }
      w[k] = bits;
    }
  });
  return out;
}

/// Evaluates a scan predicate over entity `e`.
inline bitset eval_scan(const graph& g, entity_id e, const scan_pred& p) {
  const std::size_t n = g.rows(e);
  using K = scan_pred::kind;
  if (p.bucket) return eval_bucket(g, e, p);
  if (p.k == K::link_null) {
    const link_index& li = g.link(e, p.link);
    const row_id* par = li.parents().data();
    bitset out(n);
    fill_by_row(out, n, [&](std::size_t r) { return (par[r] == no_row) != p.negated; });
    return out;
  }
  if (p.k == K::compare_attrs) {
    bitset out(n);
    auto follow = [&](const attr_ref& a, row_id r) {
      for (const auto& h : a.path) {
        r = g.link(h.from, h.link).parent(r);
        if (r == no_row) return no_row;
      }
      return r;
    };
    const column& ca = g.attribute(p.left.entity, p.left.attribute);
    const column& cb = g.attribute(p.right.entity, p.right.attribute);
    bitset na = to_bitset(ca.nulls(), ca.size()), nb = to_bitset(cb.nulls(), cb.size());
    auto strings_of = [](const column& c, row_id r, std::vector<std::string_view>& out) {
      out.clear();
      if (c.type() == value_type::string)
        out.push_back(c.string_at(r));
      else
        for (auto code : c.list_at(r)) out.push_back(c.dictionary()[code]);
    };
    const bool both_int =
        (ca.type() == value_type::integer || ca.type() == value_type::timestamp) &&
        (cb.type() == value_type::integer || cb.type() == value_type::timestamp);
    fill_by_row(out, n, [&](std::size_t r0) {
      row_id ra = follow(p.left, row_id(r0)), rb = follow(p.right, row_id(r0));
      if (ra == no_row || rb == no_row || na.test(ra) || nb.test(rb)) return false;
      switch (ca.type()) {
        case value_type::boolean:
          return cmp(p.op, sign3<int>(ca.bool_at(ra), cb.bool_at(rb)));
        case value_type::string:
        case value_type::string_list: {
          thread_local std::vector<std::string_view> xa, xb;
          strings_of(ca, ra, xa);
          strings_of(cb, rb, xb);
          for (auto x : xa)
            for (auto y : xb) {
              int c = x.compare(y);
              if (cmp(p.op, (c > 0) - (c < 0))) return true;
            }
          return false;
        }
        default:
          if (both_int) return cmp(p.op, sign3(ca.ints()[ra], cb.ints()[rb]));
          return cmp(p.op, sign3(exact_number(ca, ra), exact_number(cb, rb)));
      }
    });
    return out;
  }

  const column& c = g.attribute(e, p.attribute);
  if (p.k == K::is_null) {
    bitset out = to_bitset(c.nulls(), n);
    if (p.negated) out.flip_all();
    return out;
  }

  switch (c.type()) {
    case value_type::integer:
    case value_type::timestamp: {
      bitset out(n);
      const int_array& values = c.ints();
      if (p.k == K::in_list) {
        std::vector<std::int64_t> set;
        for (const auto& l : p.values) {
          long double x = literal_number(l);
          int_range r = int_range_of(cmp_op::eq, x);
          if (!r.empty) set.push_back(r.lo);
        }
        values.with_stored([&](const auto* v) {
          using T = std::remove_cv_t<std::remove_pointer_t<decltype(v)>>;
          std::vector<T> stored;  // the listed values the column can hold, in stored form
          for (std::int64_t x : set)
            if (auto u = stored_of<T>(values, x)) stored.push_back(*u);
          std::sort(stored.begin(), stored.end());
          fill_by_row(out, n, [&](std::size_t r) {
            return std::binary_search(stored.begin(), stored.end(), v[r]) != p.negated;
          });
        });
      } else {
        int_range range;
        if (p.k == K::compare)
          range = int_range_of(p.op, literal_number(p.values[0]));
        else
          range = intersect(int_range_of(cmp_op::ge, literal_number(p.values[0])),
                            int_range_of(cmp_op::le, literal_number(p.values[1])));
        if (range.empty) return out;
        values.with_stored([&](const auto* v) {
          using T = std::remove_cv_t<std::remove_pointer_t<decltype(v)>>;
          if (range.has_exclude) {
            if (auto x = stored_of<T>(values, range.exclude)) {
              const T ex = *x;
              fill_by_row(out, n, [&](std::size_t r) { return v[r] != ex; });
            } else {
              fill_by_row(out, n, [](std::size_t) { return true; });  // no row holds it
            }
            return;
          }
          T lo, hi;
          if (!stored_range<T>(values, range.lo, range.hi, lo, hi)) return;
          std::uint64_t* w = out.words();
          parallel_words(
              n, [&](std::size_t w0, std::size_t w1) { range_words(v, n, lo, hi, w, w0, w1); });
        });
      }
      andnot_roaring(out, c.nulls());
      return out;
    }
    case value_type::floating: {
      bitset out(n);
      const double* v = c.floats().data();
      if (p.k == K::in_list) {
        std::vector<double> set;
        for (const auto& l : p.values) {
          double lo, hi;  // only values a double holds exactly can be equal
          if (double_range_of(cmp_op::eq, literal_number(l), lo, hi)) set.push_back(lo);
        }
        std::sort(set.begin(), set.end());
        fill_by_row(out, n, [&](std::size_t r) {
          return std::binary_search(set.begin(), set.end(), v[r]) != p.negated;
        });
      } else if (p.k == K::compare && p.op == cmp_op::ne) {
        const long double x = literal_number(p.values[0]);
        fill_by_row(out, n, [&](std::size_t r) { return static_cast<long double>(v[r]) != x; });
      } else {
        // Every other test is an inclusive range of doubles: x < c is x <= the double below c.
        double lo, hi, lo2, hi2;
        bool any = p.k == K::compare
                       ? double_range_of(p.op, literal_number(p.values[0]), lo, hi)
                       : double_range_of(cmp_op::ge, literal_number(p.values[0]), lo, hi2) &&
                             double_range_of(cmp_op::le, literal_number(p.values[1]), lo2, hi);
        if (any && lo <= hi) {
          std::uint64_t* w = out.words();
          parallel_words(
              n, [&](std::size_t w0, std::size_t w1) { range_words(v, n, lo, hi, w, w0, w1); });
        }
      }
      andnot_roaring(out, c.nulls());
      return out;
    }
    case value_type::boolean: {
      // Decide for false and for true, then combine the two row sets.
      auto holds = [&](bool b) {
        switch (p.k) {
          case K::compare:
            return value_test{p.op, p.values[0]}(b);
          case K::in_list: {
            bool in = false;
            for (const auto& l : p.values) in = in || l.b == b;
            return in != p.negated;
          }
          case K::between:
            return value_test{cmp_op::ge, p.values[0]}(b) && value_test{cmp_op::le, p.values[1]}(b);
          default:
            return false;
        }
      };
      bool t = holds(true), f = holds(false);
      bitset out(n);
      if (t) or_into(out, &c.trues().roaring);
      if (f) {
        bitset falses(n, true);
        andnot_roaring(falses, c.trues());
        andnot_roaring(falses, c.nulls());
        out.or_with(falses);
      }
      return out;
    }
    case value_type::string:
    case value_type::string_list: {
      const string_dictionary& d = c.dictionary();
      std::vector<std::uint8_t> match(d.size(), 0);
      switch (p.k) {
        case K::compare: {
          if (p.op == cmp_op::eq) {
            auto code = d.find(p.values[0].s);
            if (code >= 0) match[code] = 1;
          } else {
            value_test test{p.op, p.values[0]};
            for (std::uint32_t code = 0; code < d.size(); ++code) match[code] = test(d[code]);
          }
          break;
        }
        case K::in_list: {
          if (!p.negated) {
            for (const auto& l : p.values) {
              auto code = d.find(l.s);
              if (code >= 0) match[code] = 1;
            }
          } else {
            std::fill(match.begin(), match.end(), 1);
            for (const auto& l : p.values) {
              auto code = d.find(l.s);
              if (code >= 0) match[code] = 0;
            }
          }
          break;
        }
        case K::between: {
          std::size_t lo = d.lower_bound(p.values[0].s), hi = d.upper_bound(p.values[1].s);
          for (std::size_t code = lo; code < hi; ++code) match[code] = 1;
          break;
        }
        case K::like: {
          const like_matcher m(p.values[0].s, p.case_insensitive);
          b2bseg::detail::parallel_for(tbb::blocked_range<std::size_t>(0, d.size(), 4096),
                                       [&](const tbb::blocked_range<std::size_t>& r) {
                                         for (std::size_t code = r.begin(); code < r.end(); ++code)
                                           match[code] = m(d[static_cast<std::uint32_t>(code)]);
                                       });
          break;
        }
        default:
          break;
      }
      return string_rows(c, n, match);
    }
  }
  return bitset(n);
}

/// Rows of entity `e` whose link `link` is set and whose parent is in `in`.
inline bitset eval_to_one(const graph& g, entity_id e, std::uint32_t link, const bitset& in) {
  const std::size_t n = g.rows(e);
  const row_id* par = g.link(e, link).parents().data();
  const std::uint64_t* iw = in.words();
  bitset out(n);
  std::uint64_t* ow = out.words();
  static_assert(sizeof(row_id) == 4 && no_row == ~std::uint32_t{0});
  parallel_words(n, [&](std::size_t w0, std::size_t w1) { gather_bits(par, n, iw, ow, w0, w1); });
  return out;
}

/// Parents (rows of `node.entity`) whose count of children in `in` over `node.source.link`
/// passes `node.test`. A clustered link counts with a popcount over the child range.
inline bitset eval_rev_count(const graph& g, const plan_node& node, const bitset& in) {
  const std::size_t n = g.rows(node.entity);
  const link_index& li = g.link(node.source, node.link);
  int_range range;
  if (node.test.between)
    range = intersect(int_range_of(cmp_op::ge, literal_number(node.test.value)),
                      int_range_of(cmp_op::le, literal_number(node.test.hi)));
  else
    range = int_range_of(node.test.op, literal_number(node.test.value));
  bitset out(n);
  if (range.empty) return out;
  const std::int64_t lo = range.lo, hi = range.hi, ex = range.exclude;
  const bool has_ex = range.has_exclude;
  auto pass = [&](std::int64_t k) { return has_ex ? k != ex : (lo <= k && k <= hi); };
  const auto* off = li.offsets().data();
  if (in.count() == in.size()) {  // every child passes: the count is the degree
    fill_by_row(out, n, [&](std::size_t p) { return pass(std::int64_t(off[p + 1] - off[p])); });
  } else if (li.clustered() && !has_ex) {
    std::uint64_t* ow = out.words();
    const std::uint64_t* iw = in.words();
    parallel_words(n, [&](std::size_t w0, std::size_t w1) {
      range_counts(iw, in.word_count(), off, w0 * 64, std::min(n, w1 * 64), lo, hi, ow);
    });
  } else if (li.clustered()) {
    fill_by_row(out, n, [&](std::size_t p) {
      return pass(std::int64_t(in.count_range(off[p], off[p + 1])));
    });
  } else if (std::size_t k = in.count(); k * 4 < li.set_count()) {
    // Few children pass: push each one to its parent (one sequential pass over them) instead of
    // pulling every parent's children.
    const row_id* par = li.parents().data();
    // Where the test only asks whether a parent has such a child (count >= 1, or = 0), each
    // child sets its parent's bit: no count per parent to allocate, fill and test (the suite's
    // membership and role counts at 1M people, in `b2bseg explain`: 1 to 16 ms each, now under
    // 0.5 ms).
    // (No parent has more than the k passing children, so any hi >= k is no bound.)
    const bool any = has_ex ? ex == 0 : lo == 1 && hi >= std::int64_t(k);
    const bool none = !has_ex && lo <= 0 && hi == 0;
    if (any || none) {
      in.for_each([&](std::size_t c) {
        if (par[c] != no_row) out.set(par[c]);
      });
      if (none) out.flip_all();
      return out;
    }
    std::vector<std::uint32_t> counts(n, 0);
    in.for_each([&](std::size_t c) {
      if (par[c] != no_row) ++counts[par[c]];
    });
    fill_by_row(out, n, [&](std::size_t p) { return pass(std::int64_t(counts[p])); });
  } else {
    const std::uint64_t* iw = in.words();
    fill_by_row(out, n, [&](std::size_t p) {
      std::int64_t k = 0;
      for (row_id c : li.children(row_id(p))) k += (iw[c >> 6] >> (c & 63)) & 1;
      return pass(k);
    });
  }
  return out;
}

/// Parents whose aggregate `node.fn` of `node.source.attribute` over children in `in` (nulls
/// skipped) passes `node.test`. Sums of int and timestamp values are exact (128-bit), and so are
/// their averages' comparisons (sum / count against the literal, never rounded); floats sum as a
/// double accumulated in ascending child order. avg/min/max of no value is null, which fails
/// every test; sum of no value is 0.
inline bitset eval_rev_aggregate(const graph& g, const plan_node& node, const bitset& in) {
  const std::size_t n = g.rows(node.entity);
  const link_index& li = g.link(node.source, node.link);
  const column& c = g.attribute(node.source, node.attribute);
  bitset usable = in.clone();
  andnot_roaring(usable, c.nulls());
  const bool is_float = c.type() == value_type::floating;
  const double* fv = c.floats().data();
  const long double lo = literal_number(node.test.value);
  const long double hi = node.test.between ? literal_number(node.test.hi) : lo;
  // `sign(v)` = sign of (aggregate - v); the test in terms of it.
  auto pass = [&](auto sign) {
    if (node.test.between) return sign(lo) >= 0 && sign(hi) <= 0;
    return cmp(node.test.op, sign(lo));
  };
  bitset out(n);
  const int_array& ints = c.ints();
  // iv: the stored int values (any type; unused for floats).
  auto run = [&](const auto* iv) {
    fill_by_row(out, n, [&](std::size_t p) {
      std::uint64_t count = 0;
      int128 isum = 0;
      std::int64_t imin = 0, imax = 0;
      double fsum = 0, fmin = 0, fmax = 0;
      li.for_each_child(row_id(p), [&](row_id ch) {
        if (!usable.test(ch)) return;
        if (is_float) {
          double x = fv[ch];
          fsum += x;
          if (count == 0 || x < fmin) fmin = x;
          if (count == 0 || x > fmax) fmax = x;
        } else {
          const std::int64_t x = ints.decode(iv[ch]);
          isum += x;
          if (count == 0 || x < imin) imin = x;
          if (count == 0 || x > imax) imax = x;
        }
        ++count;
      });
      auto number = [&](long double x) { return [x](long double v) { return sign3(x, v); }; };
      switch (node.fn) {
        case aggregate_fn::count:
          return pass(number(static_cast<long double>(count)));
        case aggregate_fn::sum:
          if (is_float) return pass(number(fsum));
          return pass([&](long double v) { return compare_exact(isum, v); });
        case aggregate_fn::avg:
          if (count == 0) return false;
          if (is_float) return pass(number(fsum / static_cast<long double>(count)));
          return pass([&](long double v) { return compare_ratio(isum, count, v); });
        case aggregate_fn::min:
          return count > 0 && pass(number(is_float ? fmin : static_cast<long double>(imin)));
        case aggregate_fn::max:
          return count > 0 && pass(number(is_float ? fmax : static_cast<long double>(imax)));
      }
      return false;
    });
  };
  if (is_float)
    run(static_cast<const std::int64_t*>(nullptr));
  else
    ints.with_stored(run);
  return out;
}

/// Parents with children (over `node.source.link`) in the step sets `steps` at strictly
/// increasing times of `node.attribute`, within `node.within_us` (SPEC 3.5 `sequence`). Pushed
/// from the children: only those with a time that meet some step are visited (a word scan of the
/// union of the steps), their (parent, time, step) gathered in child order, grouped by parent
/// (a stable sort only when the children are not clustered by that link), and each parent's run
/// decided by `sequence_holds`. O(children / 64 + k log k) for the k children meeting a step.
inline bitset eval_rev_sequence(const graph& g, const plan_node& node,
                                const std::vector<const bitset*>& steps) {
  const std::size_t n = g.rows(node.entity);
  const link_index& li = g.link(node.source, node.link);
  const column& ts = g.attribute(node.source, node.attribute);
  bitset any = steps[0]->clone();
  for (std::size_t s = 1; s < steps.size(); ++s) any.or_with(*steps[s]);
  andnot_roaring(any, ts.nulls());
  struct item {
    row_id parent;
    sequence_item at;
  };
  std::vector<item> items;
  const int_array& times = ts.ints();
  any.for_each([&](std::size_t c) {
    const row_id p = li.parent(static_cast<row_id>(c));
    if (p == no_row) return;
    const std::int64_t t = times[c];
    for (std::uint32_t s = 0; s < steps.size(); ++s)
      if (steps[s]->test(c)) items.push_back({p, {t, s}});
  });
  auto by_parent = [](const item& a, const item& b) { return a.parent < b.parent; };
  if (!std::is_sorted(items.begin(), items.end(), by_parent))
    std::stable_sort(items.begin(), items.end(), by_parent);
  bitset out(n);
  std::vector<sequence_item> run;
  for (std::size_t i = 0; i < items.size();) {
    std::size_t j = i;
    run.clear();
    for (; j < items.size() && items[j].parent == items[i].parent; ++j) run.push_back(items[j].at);
    if (sequence_holds(run, steps.size(), node.within_us)) out.set(items[i].parent);
    i = j;
  }
  return out;
}

/// Rows of `in` among the first `node.top_n` of their group in `node.order` (SPEC 3.5 `top`,
/// see `top_rows`): the rows of `in` and their groups from the parent array, the keys straight
/// from the columns (nulls from one bitset per key), then `rank_input::select`. O(m log m) at
/// most for the m rows of `in` (no sort when they are clustered by the `per` link).
inline bitset eval_top(const graph& g, const plan_node& node, const bitset& in) {
  const std::size_t n = g.rows(node.entity);
  const entity_id e = node.entity;
  rank_input ri;
  const link_index* per =
      node.per_link >= 0 ? &g.link(e, static_cast<std::uint32_t>(node.per_link)) : nullptr;
  in.for_each([&](std::size_t r) {
    const row_id group = per ? per->parent(static_cast<row_id>(r)) : 0;
    if (group != no_row) ri.cand.emplace_back(group, static_cast<row_id>(r));
  });
  struct read {
    const graph& g;
    entity_id e;
    std::vector<bitset> nulls;  // per attribute of the order, else empty
    bool is_null(std::uint32_t a, row_id r) const { return nulls[a].test(r); }
    std::int64_t int_at(std::uint32_t a, row_id r) const { return g.attribute(e, a).ints()[r]; }
    double float_at(std::uint32_t a, row_id r) const { return g.attribute(e, a).floats()[r]; }
    bool bool_at(std::uint32_t a, row_id r) const { return g.attribute(e, a).bool_at(r); }
    std::string_view string_at(std::uint32_t a, row_id r) const {
      return g.attribute(e, a).string_at(r);
    }
  } rd{g, e, std::vector<bitset>(g.schema().entities[e].attributes.size())};
  for (const order_key& o : node.order)
    if (rd.nulls[o.attribute].empty())
      rd.nulls[o.attribute] = to_bitset(g.attribute(e, o.attribute).nulls(), n);
  ri.gather(node, rd);
  const std::size_t m = ri.cand.size(), block = 16384, blocks = (m + block - 1) / block;
  std::vector<std::vector<row_id>> rows(blocks);
  auto key_of = [&](row_id r) { return g.key(e, r); };
  bitset out(n);
  if (node.per_link < 0 && blocks > 1 && m > node.top_n) {
    // One group: each block keeps its own first N in parallel, then the survivors are cut.
    auto before = [&](std::uint32_t a, std::uint32_t b) {
      return ri.ranks_before(node, key_of, a, b);
    };
    std::vector<std::vector<std::uint32_t>> kept(blocks);
    parallel_for(std::size_t(0), blocks, [&](std::size_t b) {
      std::vector<std::uint32_t>& idx = kept[b];
      for (std::size_t x = b * block; x < std::min(m, (b + 1) * block); ++x)
        idx.push_back(static_cast<std::uint32_t>(x));
      if (idx.size() <= node.top_n) return;
      const auto cut = idx.begin() + static_cast<std::ptrdiff_t>(node.top_n);
      std::nth_element(idx.begin(), cut, idx.end(), before);
      idx.erase(cut, idx.end());
    });
    std::vector<std::uint32_t> all;
    for (const auto& idx : kept) all.insert(all.end(), idx.begin(), idx.end());
    const std::size_t take = std::min<std::size_t>(all.size(), node.top_n);
    std::nth_element(all.begin(), all.begin() + static_cast<std::ptrdiff_t>(take), all.end(),
                     before);
    for (std::size_t x = 0; x < take; ++x) out.set(ri.cand[all[x]].second);
    return out;
  }
  // Groups split into blocks (at group starts) that rank in parallel.
  parallel_for(std::size_t(0), blocks, [&](std::size_t b) {
    ri.select(node, key_of, rows[b], ri.group_start(b * block), ri.group_start((b + 1) * block));
  });
  for (const auto& part : rows)
    for (row_id r : part) out.set(r);
  return out;
}

}  // namespace b2bseg::detail
