// One plan node evaluated for one row: the same answer as the node's kernel (exec/kernels.hpp)
// gives for that row, read through an accessor instead of the graph's columns. The live engine
// recomputes only the rows a batch can have changed with it.
#pragma once

#include <algorithm>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "b2bseg/common/exact.hpp"
#include "b2bseg/exec/kernels.hpp"
#include "b2bseg/exec/like.hpp"
#include "b2bseg/exec/rank.hpp"
#include "b2bseg/plan/plan.hpp"

namespace b2bseg {

/// A plan node's literals turned once into what a row test needs (ranges, sorted sets, a LIKE
/// matcher), exactly as the node's kernel turns them. Cost: O(literals) to build.
struct prepared_node {
  detail::int_range ints;             ///< scan of an int or timestamp column; rev_count's test
  std::vector<std::int64_t> int_set;  ///< in_list over ints
  bool float_any = false;             ///< a float range can match
  double float_lo = 0, float_hi = 0;
  long double float_ne = 0;                    ///< compare ne over floats
  std::vector<double> float_set;               ///< in_list over floats
  bool bool_true = false, bool_false = false;  ///< whether true / false pass
  std::optional<like_matcher> like;
  std::vector<std::string> string_set;  ///< in_list over strings, sorted
  long double agg_lo = 0, agg_hi = 0;   ///< rev_aggregate's test values
};

/// Prepares `n` for row tests against the column types of `s`.
inline prepared_node prepare_node(const schema& s, const plan_node& n) {
  using K = scan_pred::kind;
  prepared_node out;
  auto number_range = [](const number_test& t) {
    return t.between ? detail::intersect(
                           detail::int_range_of(cmp_op::ge, detail::literal_number(t.value)),
                           detail::int_range_of(cmp_op::le, detail::literal_number(t.hi)))
                     : detail::int_range_of(t.op, detail::literal_number(t.value));
  };
  if (n.op == plan_op::rev_count) out.ints = number_range(n.test);
  if (n.op == plan_op::rev_aggregate) {
    out.agg_lo = detail::literal_number(n.test.value);
    out.agg_hi = n.test.between ? detail::literal_number(n.test.hi) : out.agg_lo;
  }
  if (n.op != plan_op::scan) return out;
  const scan_pred& p = n.pred;
  if (p.k == K::link_null || p.k == K::compare_attrs || p.k == K::is_null) return out;
  const value_type t =
      p.bucket ? value_type::integer : s.entities[n.entity].attributes[p.attribute].type;
  switch (t) {
    case value_type::integer:
    case value_type::timestamp: {
      detail::int_test it = detail::int_test::of(p);
      out.ints = it.range;
      out.int_set = std::move(it.set);
      break;
    }
    case value_type::floating:
      if (p.k == K::in_list) {
        for (const auto& l : p.values) {
          double lo, hi;
          if (detail::double_range_of(cmp_op::eq, detail::literal_number(l), lo, hi))
            out.float_set.push_back(lo);
        }
        std::sort(out.float_set.begin(), out.float_set.end());
      } else if (p.k == K::compare && p.op == cmp_op::ne) {
        out.float_ne = detail::literal_number(p.values[0]);
      } else {
        double lo = 0, hi = 0, lo2 = 0, hi2 = 0;
        out.float_any =
            p.k == K::compare
                ? detail::double_range_of(p.op, detail::literal_number(p.values[0]), lo, hi)
                : detail::double_range_of(cmp_op::ge, detail::literal_number(p.values[0]), lo,
                                          hi2) &&
                      detail::double_range_of(cmp_op::le, detail::literal_number(p.values[1]), lo2,
                                              hi);
        out.float_any = out.float_any && lo <= hi;
        out.float_lo = lo;
        out.float_hi = hi;
      }
      break;
    case value_type::boolean: {
      auto holds = [&](bool b) {
        switch (p.k) {
          case K::compare:
            return detail::value_test{p.op, p.values[0]}(b);
          case K::in_list: {
            bool in = false;
            for (const auto& l : p.values) in = in || l.b == b;
            return in != p.negated;
          }
          case K::between:
            return detail::value_test{cmp_op::ge, p.values[0]}(b) &&
                   detail::value_test{cmp_op::le, p.values[1]}(b);
          default:
            return false;
        }
      };
      out.bool_true = holds(true);
      out.bool_false = holds(false);
      break;
    }
    case value_type::string:
    case value_type::string_list:
      if (p.k == K::like) out.like.emplace(p.values[0].s, p.case_insensitive);
      if (p.k == K::in_list) {
        for (const auto& l : p.values) out.string_set.push_back(l.s);
        std::sort(out.string_set.begin(), out.string_set.end());
      }
      break;
  }
  return out;
}

/// Evaluates plan nodes for single rows through an accessor `V`, which offers:
///
///     std::size_t rows(entity_id);                         // ids are below it
///     bool alive(entity_id, row_id);
///     std::string_view key(entity_id, row_id);               // entities with a key
///     row_id parent(entity_id, std::uint32_t link, row_id);
///     void for_each_child(entity_id source, std::uint32_t link, row_id parent, F f);
///     void children_in_order(entity_id source, std::uint32_t link, row_id parent,
///                            std::vector<row_id>& out);   // the order float sums add up in
///     bool is_null(entity_id, std::uint32_t attribute, row_id);
///     std::int64_t int_at(...); double float_at(...); bool bool_at(...);
///     void strings_at(entity_id, std::uint32_t attribute, row_id,
///                     std::vector<std::string_view>& out);  // a string, or a list's elements
///
/// and a bit lookup `In(node, row) -> bool` for the node's inputs. Each test is the kernel's
/// definition for one row (the randomized live tests hold them equal). Not thread-safe (scratch
/// vectors); one evaluator per thread.
template <class V>
class row_evaluator {
 public:
  explicit row_evaluator(const V& v) : v_(v) {}

  /// Whether row `r` of `n.entity` is in node `n`'s set; `in(i, row)` gives input node i's bit.
  /// Dead rows are in no set. Cost: O(1) for most nodes; O(children of r) for rev_*; float
  /// sums and averages sort the children first.
  template <class In>
  bool operator()(const plan_node& n, const prepared_node& pn, row_id r, In&& in) {
    if (!v_.alive(n.entity, r)) return false;
    switch (n.op) {
      case plan_op::all:
        return true;
      case plan_op::empty:
        return false;
      case plan_op::scan:
        return scan(n, pn, r);
      case plan_op::and_:
        for (auto i : n.inputs)
          if (!in(i, r)) return false;
        return true;
      case plan_op::or_:
        for (auto i : n.inputs)
          if (in(i, r)) return true;
        return false;
      case plan_op::not_:
        return !in(n.inputs[0], r);
      case plan_op::to_one: {
        const row_id p = v_.parent(n.entity, n.link, r);
        return p != no_row && in(n.inputs[0], p);
      }
      case plan_op::rev_count: {
        if (pn.ints.empty) return false;
        std::int64_t k = 0;
        v_.for_each_child(n.source, n.link, r, [&](row_id c) {
          if (v_.alive(n.source, c) && in(n.inputs[0], c)) ++k;
        });
        return count_passes(pn, k);
      }
      case plan_op::rev_aggregate:
        return aggregate(n, pn, r, in);
      case plan_op::rev_sequence: {
        items_.clear();
        v_.for_each_child(n.source, n.link, r, [&](row_id c) {
          if (!v_.alive(n.source, c) || v_.is_null(n.source, n.attribute, c)) return;
          const std::int64_t t = v_.int_at(n.source, n.attribute, c);
          for (std::uint32_t s = 0; s < n.inputs.size(); ++s)
            if (in(n.inputs[s], c)) items_.push_back({t, s});
        });
        return sequence_holds(items_, n.inputs.size(), n.within_us);
      }
      case plan_op::top:
        return rank(n, r, in) < n.top_n;
    }
    return false;
  }

  /// For a `top` node: how many rows of `r`'s group in the node's condition rank before `r`, or
  /// the most a uint64 holds when `r` is not in the condition or in no group. The group (the
  /// siblings under the `per` link, or every row of the entity) is read into a `rank_input`
  /// and compared the way the kernel ranks. O(group size).
  template <class In>
  std::uint64_t rank(const plan_node& n, row_id r, In&& in) {
    constexpr std::uint64_t outside = ~std::uint64_t{0};
    const entity_id e = n.entity;
    if (!v_.alive(e, r) || !in(n.inputs[0], r)) return outside;
    rank_input ri;
    auto add = [&](row_id c) {
      if (v_.alive(e, c) && in(n.inputs[0], c)) ri.cand.emplace_back(0, c);
    };
    if (n.per_link < 0) {
      for (row_id c = 0; c < v_.rows(e); ++c) add(c);
    } else {
      const auto l = static_cast<std::uint32_t>(n.per_link);
      const row_id p = v_.parent(e, l, r);
      if (p == no_row) return outside;
      v_.for_each_child(e, l, p, [&](row_id c) {
        if (v_.parent(e, l, c) == p) add(c);
      });
    }
    ri.gather(n, accessor_keys<V>{v_, e, {}});
    auto key_of = [&](row_id x) { return v_.key(e, x); };
    std::uint32_t self = 0;
    while (ri.cand[self].second != r) ++self;
    std::uint64_t k = 0;
    for (std::uint32_t c = 0; c < ri.cand.size(); ++c) k += ri.ranks_before(n, key_of, c, self);
    return k;
  }

  /// For a `rev_aggregate` node whose function is min or max: that extreme over row `r`'s
  /// children in the input set, exactly (every int64 and double is a long double), or nothing
  /// when `r` is dead or no child counts. The node's bit is `passes` of it. O(children of r).
  template <class In>
  std::optional<long double> extreme(const plan_node& n, row_id r, In&& in) {
    if (!v_.alive(n.entity, r)) return std::nullopt;
    const entity_id s = n.source;
    const bool is_float = attribute_type(s, n.attribute) == value_type::floating;
    const bool want_min = n.fn == aggregate_fn::min;
    bool any = false;
    long double best = 0;
    v_.for_each_child(s, n.link, r, [&](row_id c) {
      if (!v_.alive(s, c) || !in(n.inputs[0], c) || v_.is_null(s, n.attribute, c)) return;
      const long double x = is_float ? static_cast<long double>(v_.float_at(s, n.attribute, c))
                                     : static_cast<long double>(v_.int_at(s, n.attribute, c));
      if (!any || (want_min ? x < best : x > best)) best = x;
      any = true;
    });
    if (!any) return std::nullopt;
    return best;
  }

  /// Whether `k` children pass a `rev_count` node's test, prepared as `pn`. O(1).
  static bool count_passes(const prepared_node& pn, std::int64_t k) noexcept {
    const detail::int_range& range = pn.ints;
    if (range.empty) return false;
    return range.has_exclude ? k != range.exclude : (range.lo <= k && k <= range.hi);
  }

  /// Whether the aggregate value `v` passes `n`'s test (`n` a `rev_aggregate`).
  static bool passes(const plan_node& n, const prepared_node& pn, long double v) {
    if (n.test.between) return detail::sign3(v, pn.agg_lo) >= 0 && detail::sign3(v, pn.agg_hi) <= 0;
    return detail::cmp(n.test.op, detail::sign3(v, pn.agg_lo));
  }

 private:
  bool scan(const plan_node& n, const prepared_node& pn, row_id r) {
    using K = scan_pred::kind;
    const scan_pred& p = n.pred;
    const entity_id e = n.entity;
    if (p.k == K::link_null) return (v_.parent(e, p.link, r) == no_row) != p.negated;
    if (p.k == K::compare_attrs) return compare_attrs(p, r);
    if (p.k == K::is_null) return v_.is_null(e, p.attribute, r) != p.negated;
    if (!p.bucket && v_.is_null(e, p.attribute, r)) return false;
    const value_type t = p.bucket ? value_type::integer : attribute_type(e, p.attribute);
    switch (t) {
      case value_type::integer:
      case value_type::timestamp: {
        const std::int64_t x = p.bucket ? static_cast<std::int64_t>(bucket_hasher(
                                              p.bucket->salt, p.bucket->n)(v_.key(e, r)))
                                        : v_.int_at(e, p.attribute, r);
        if (p.k == K::in_list)
          return std::binary_search(pn.int_set.begin(), pn.int_set.end(), x) != p.negated;
        const detail::int_range& range = pn.ints;
        if (range.empty) return false;
        if (range.has_exclude) return x != range.exclude;
        return range.lo <= x && x <= range.hi;
      }
      case value_type::floating: {
        const double x = v_.float_at(e, p.attribute, r);
        if (p.k == K::in_list)
          return std::binary_search(pn.float_set.begin(), pn.float_set.end(), x) != p.negated;
        if (p.k == K::compare && p.op == cmp_op::ne)
          return static_cast<long double>(x) != pn.float_ne;
        return pn.float_any && pn.float_lo <= x && x <= pn.float_hi;
      }
      case value_type::boolean:
        return v_.bool_at(e, p.attribute, r) ? pn.bool_true : pn.bool_false;
      case value_type::string:
      case value_type::string_list: {
        v_.strings_at(e, p.attribute, r, strings_a_);
        for (std::string_view s : strings_a_)
          if (string_matches(p, pn, s)) return true;
        return false;
      }
    }
    return false;
  }

  static bool string_matches(const scan_pred& p, const prepared_node& pn, std::string_view s) {
    using K = scan_pred::kind;
    switch (p.k) {
      case K::compare:
        return p.op == cmp_op::eq ? s == p.values[0].s : detail::value_test{p.op, p.values[0]}(s);
      case K::in_list: {
        const bool listed =
            std::binary_search(pn.string_set.begin(), pn.string_set.end(), s,
                               [](std::string_view a, std::string_view b) { return a < b; });
        return listed != p.negated;
      }
      case K::between:
        return s >= std::string_view(p.values[0].s) && s <= std::string_view(p.values[1].s);
      case K::like:
        return (*pn.like)(s);
      default:
        return false;
    }
  }

  bool compare_attrs(const scan_pred& p, row_id r0) {
    auto follow = [&](const attr_ref& a, row_id r) {
      for (const auto& h : a.path) {
        r = v_.parent(h.from, h.link, r);
        if (r == no_row) return no_row;
      }
      return r;
    };
    const row_id ra = follow(p.left, r0), rb = follow(p.right, r0);
    if (ra == no_row || rb == no_row) return false;
    const entity_id ea = p.left.entity, eb = p.right.entity;
    const std::uint32_t aa = p.left.attribute, ab = p.right.attribute;
    if (v_.is_null(ea, aa, ra) || v_.is_null(eb, ab, rb)) return false;
    const value_type ta = attribute_type(ea, aa), tb = attribute_type(eb, ab);
    auto is_int = [](value_type t) {
      return t == value_type::integer || t == value_type::timestamp;
    };
    switch (ta) {
      case value_type::boolean:
        return detail::cmp(p.op,
                           detail::sign3<int>(v_.bool_at(ea, aa, ra), v_.bool_at(eb, ab, rb)));
      case value_type::string:
      case value_type::string_list: {
        v_.strings_at(ea, aa, ra, strings_a_);
        v_.strings_at(eb, ab, rb, strings_b_);
        for (auto x : strings_a_)
          for (auto y : strings_b_) {
            const int c = x.compare(y);
            if (detail::cmp(p.op, (c > 0) - (c < 0))) return true;
          }
        return false;
      }
      default: {
        if (is_int(ta) && is_int(tb))
          return detail::cmp(p.op, detail::sign3(v_.int_at(ea, aa, ra), v_.int_at(eb, ab, rb)));
        auto number = [&](entity_id e, std::uint32_t a, value_type t, row_id r) {
          return t == value_type::floating ? static_cast<long double>(v_.float_at(e, a, r))
                                           : static_cast<long double>(v_.int_at(e, a, r));
        };
        return detail::cmp(p.op, detail::sign3(number(ea, aa, ta, ra), number(eb, ab, tb, rb)));
      }
    }
  }

  template <class In>
  bool aggregate(const plan_node& n, const prepared_node& pn, row_id r, In& in) {
    const entity_id s = n.source;
    const bool is_float = attribute_type(s, n.attribute) == value_type::floating;
    std::uint64_t count = 0;
    detail::int128 isum = 0;
    std::int64_t imin = 0, imax = 0;
    double fsum = 0, fmin = 0, fmax = 0;
    auto add = [&](row_id c) {
      if (!v_.alive(s, c) || !in(n.inputs[0], c) || v_.is_null(s, n.attribute, c)) return;
      if (is_float) {
        const double x = v_.float_at(s, n.attribute, c);
        fsum += x;
        if (count == 0 || x < fmin) fmin = x;
        if (count == 0 || x > fmax) fmax = x;
      } else {
        const std::int64_t x = v_.int_at(s, n.attribute, c);
        isum += x;
        if (count == 0 || x < imin) imin = x;
        if (count == 0 || x > imax) imax = x;
      }
      ++count;
    };
    if (is_float && (n.fn == aggregate_fn::sum || n.fn == aggregate_fn::avg)) {
      // A float sum depends on the order of its terms: add them in the order the kernel would.
      v_.children_in_order(s, n.link, r, children_);
      for (row_id c : children_) add(c);
    } else {
      v_.for_each_child(s, n.link, r, add);
    }
    auto pass = [&](auto sign) {
      if (n.test.between) return sign(pn.agg_lo) >= 0 && sign(pn.agg_hi) <= 0;
      return detail::cmp(n.test.op, sign(pn.agg_lo));
    };
    auto number = [](long double x) { return [x](long double v) { return detail::sign3(x, v); }; };
    switch (n.fn) {
      case aggregate_fn::count:
        return pass(number(static_cast<long double>(count)));
      case aggregate_fn::sum:
        if (is_float) return pass(number(fsum));
        return pass([&](long double v) { return detail::compare_exact(isum, v); });
      case aggregate_fn::avg:
        if (count == 0) return false;
        if (is_float) return pass(number(fsum / static_cast<long double>(count)));
        return pass([&](long double v) { return detail::compare_ratio(isum, count, v); });
      case aggregate_fn::min:
        return count > 0 && passes(n, pn, is_float ? fmin : static_cast<long double>(imin));
      case aggregate_fn::max:
        return count > 0 && passes(n, pn, is_float ? fmax : static_cast<long double>(imax));
    }
    return false;
  }

  value_type attribute_type(entity_id e, std::uint32_t a) const {
    return v_.schema().entities[e].attributes[a].type;
  }

  const V& v_;
  std::vector<std::string_view> strings_a_, strings_b_;
  std::vector<row_id> children_;
  std::vector<sequence_item> items_;
};

}  // namespace b2bseg
