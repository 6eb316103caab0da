// Sequences and ranks (SPEC 3.5): whether a parent's related rows hold an ordered sequence of
// steps within a time bound, and the first N rows of a group in a given order. Written once over
// an accessor (see row_evaluator), so the kernels, the live path and `why` share the definitions.
#pragma once

#include <algorithm>
#include <cstdint>
#include <limits>
#include <string_view>
#include <utility>
#include <vector>

#include "b2bseg/common/exact.hpp"
#include "b2bseg/plan/plan.hpp"

namespace b2bseg {

/// One related row for a sequence test: its time and a step it satisfies (a row satisfying
/// several steps appears once per step).
struct sequence_item {
  std::int64_t time = 0;
  std::uint32_t step = 0;
};

/// Whether rows e1, e2, ... ek exist with e_i satisfying step i and strictly increasing times,
/// and, when `within` >= 0, time(ek) - time(e1) <= within. `items` (reordered here) lists the
/// related rows with a time, once per step each satisfies. One pass in time order keeps, per
/// step, the latest start of a partial sequence ending at that step (a later start is always at
/// least as good); rows of one instant extend only partial sequences of earlier instants.
/// O(m log m) for m items, O(steps) memory.
inline bool sequence_holds(std::vector<sequence_item>& items, std::size_t steps,
                           std::int64_t within) {
  if (steps == 0) return false;
  std::sort(items.begin(), items.end(), [](const sequence_item& a, const sequence_item& b) {
    return a.time != b.time ? a.time < b.time : a.step < b.step;
  });
  constexpr std::int64_t none = std::numeric_limits<std::int64_t>::min();
  std::vector<std::int64_t> best(steps, none), next(steps, none);
  for (std::size_t i = 0; i < items.size();) {
    std::size_t j = i;
    const std::int64_t t = items[i].time;
    for (; j < items.size() && items[j].time == t; ++j) {
      const std::uint32_t s = items[j].step;
      const std::int64_t start = s == 0 ? t : best[s - 1];
      if (start == none) continue;
      if (s + 1 == steps && (within < 0 || detail::int128(t) - start <= within)) return true;
      next[s] = std::max(next[s], start);
    }
    for (std::size_t s = 0; s < steps; ++s) best[s] = std::max(best[s], next[s]);
    i = j;
  }
  return false;
}

/// The rows a `top` node ranks: each with its group, sorted by group (rows ascending within
/// one), and flat copies of their keys in that order, so that ranking reads arrays.
struct rank_input {
  std::vector<std::pair<row_id, row_id>> cand;  ///< (group, row)
  struct keys {
    std::vector<std::uint8_t> null;
    std::vector<std::int64_t> ints;  ///< int, timestamp, bool
    std::vector<double> floats;
    std::vector<std::string_view> strings;  ///< views into the rows' storage
  };
  std::vector<keys> k;  ///< per key of the node's order

  /// Whether candidate `a` ranks before candidate `b` in `n`'s order: the keys (nulls last),
  /// then `key_of(row)` by bytes. O(keys).
  template <class KeyOf>
  bool ranks_before(const plan_node& n, const KeyOf& key_of, std::uint32_t a,
                    std::uint32_t b) const {
    for (std::size_t j = 0; j < n.order.size(); ++j) {
      const keys& kk = k[j];
      if (kk.null[a] != kk.null[b]) return kk.null[b] != 0;  // nulls last
      if (kk.null[a]) continue;
      int c = 0;
      if (!kk.ints.empty()) {
        c = (kk.ints[a] > kk.ints[b]) - (kk.ints[a] < kk.ints[b]);
      } else if (!kk.floats.empty()) {
        c = (kk.floats[a] > kk.floats[b]) - (kk.floats[a] < kk.floats[b]);
      } else {
        const int s = kk.strings[a].compare(kk.strings[b]);
        c = (s > 0) - (s < 0);
      }
      if (c != 0) return n.order[j].desc ? c > 0 : c < 0;
    }
    return key_of(cand[a].second) < key_of(cand[b].second);
  }

  /// The first candidate of the group at or after candidate `i` (cand.size() at the end).
  std::size_t group_start(std::size_t i) const noexcept {
    while (i > 0 && i < cand.size() && cand[i].first == cand[i - 1].first) ++i;
    return std::min(i, cand.size());
  }

  /// Sorts `cand` by group unless it already is (rows clustered by the `per` link are), then
  /// copies every key through `read`, which offers is_null(attribute, row), int_at, float_at,
  /// bool_at and string_at (the value of a string attribute). O(m log m) at most, O(m x keys).
  template <class Read>
  void gather(const plan_node& n, const Read& read) {
    if (!std::is_sorted(cand.begin(), cand.end())) std::sort(cand.begin(), cand.end());
    k.assign(n.order.size(), {});
    for (std::size_t j = 0; j < n.order.size(); ++j) {
      const order_key& o = n.order[j];
      keys& kk = k[j];
      kk.null.resize(cand.size());
      for (std::size_t i = 0; i < cand.size(); ++i) {
        const row_id r = cand[i].second;
        const bool null = read.is_null(o.attribute, r);
        kk.null[i] = null;
        switch (o.type) {
          case value_type::integer:
          case value_type::timestamp:
            kk.ints.push_back(null ? 0 : read.int_at(o.attribute, r));
            break;
          case value_type::boolean:
            kk.ints.push_back(!null && read.bool_at(o.attribute, r));
            break;
          case value_type::floating:
            kk.floats.push_back(null ? 0.0 : read.float_at(o.attribute, r));
            break;
          default:
            kk.strings.push_back(null ? std::string_view() : read.string_at(o.attribute, r));
            break;
        }
      }
    }
  }

  /// Appends to `out` the first `n.top_n` rows of each group whose candidates lie in
  /// [`from`, `to`) (bounds on group starts; the whole range by default) in the node's order
  /// (keys, nulls last, then `key_of(row)` by bytes): groups of at most N whole, larger ones cut
  /// by nth_element. O(m) key comparisons on average. Const: ranges may run in parallel.
  template <class KeyOf>
  void select(const plan_node& n, const KeyOf& key_of, std::vector<row_id>& out,
              std::size_t from = 0, std::size_t to = ~std::size_t{0}) const {
    to = std::min(to, cand.size());
    auto before = [&](std::uint32_t a, std::uint32_t b) { return ranks_before(n, key_of, a, b); };
    std::vector<std::uint32_t> idx;
    for (std::size_t i = from; i < to;) {
      std::size_t j = i;
      while (j < cand.size() && cand[j].first == cand[i].first) ++j;
      if (j - i <= n.top_n) {
        for (std::size_t x = i; x < j; ++x) out.push_back(cand[x].second);
      } else {
        idx.resize(j - i);
        for (std::size_t x = i; x < j; ++x) idx[x - i] = static_cast<std::uint32_t>(x);
        const auto cut = idx.begin() + static_cast<std::ptrdiff_t>(n.top_n);
        std::nth_element(idx.begin(), cut, idx.end(), before);
        for (auto it = idx.begin(); it != cut; ++it) out.push_back(cand[*it].second);
      }
      i = j;
    }
  }
};

/// Reads the keys of entity `e`'s rows through a row_evaluator accessor, for
/// `rank_input::gather`. Not thread-safe (a scratch vector).
template <class V>
struct accessor_keys {
  const V& v;
  entity_id e;
  mutable std::vector<std::string_view> scratch;
  bool is_null(std::uint32_t a, row_id r) const { return v.is_null(e, a, r); }
  std::int64_t int_at(std::uint32_t a, row_id r) const { return v.int_at(e, a, r); }
  double float_at(std::uint32_t a, row_id r) const { return v.float_at(e, a, r); }
  bool bool_at(std::uint32_t a, row_id r) const { return v.bool_at(e, a, r); }
  std::string_view string_at(std::uint32_t a, row_id r) const {
    v.strings_at(e, a, r, scratch);
    return scratch.empty() ? std::string_view() : scratch[0];
  }
};

/// The rows of `top` node `n` (SPEC 3.5) through accessor `v`: among the alive rows r < `rows`
/// of `n.entity` with `in(r)` (the node's condition), the first `n.top_n` of each group in
/// the node's order; a group is every such row, or with `n.per_link` >= 0 those sharing that link's
/// target (rows whose link is null are in no group). Appends them to `out`, in no particular
/// order. O(m log m) for the m rows passing, one accessor call per row and key.
template <class V, class In>
void top_rows(const V& v, const plan_node& n, std::size_t rows, In&& in, std::vector<row_id>& out) {
  const entity_id e = n.entity;
  rank_input ri;
  for (row_id r = 0; r < rows; ++r) {
    if (!v.alive(e, r) || !in(r)) continue;
    row_id group = 0;
    if (n.per_link >= 0) {
      group = v.parent(e, static_cast<std::uint32_t>(n.per_link), r);
      if (group == no_row) continue;
    }
    ri.cand.emplace_back(group, r);
  }
  ri.gather(n, accessor_keys<V>{v, e, {}});
  ri.select(
      n, [&](row_id r) { return v.key(e, r); }, out);
}

}  // namespace b2bseg
