// The current data of a live dataset as the row evaluator reads it: the immutable indexed graph
// of the last compaction, plus a delta (rows added after it, rows whose values changed, links
// re-pointed) whose values are read from the rows' texts.
#pragma once

#include <algorithm>
#include <cstdint>
#include <memory>
#include <span>
#include <string_view>
#include <vector>

#include "b2bseg/common/parse.hpp"
#include "b2bseg/exec/graph_rows.hpp"
#include "b2bseg/live/rows.hpp"
#include "b2bseg/load/table_builder.hpp"
#include "b2bseg/storage/graph.hpp"

namespace b2bseg {

/// Base graph + delta, the accessor `row_evaluator` reads (exec/row_eval.hpp). Ids: a base row
/// keeps its graph id; a row added since is `base rows + n`, in the order rows were added; a
/// deleted row keeps its id and is not `alive`. Values of base rows nobody changed come from
/// the graph's columns, all others from their texts in `live_rows` (parsed on each read: the
/// delta is small between compactions). The live engine's writer owns it: only it writes, and
/// its const reads may run on several threads at once while no write runs (the engine tests a
/// node's candidates in parallel).
///
/// Memory: a parent array per link (4 bytes a row), a byte per base row for "changed" and one
/// per link for "moved", and per link the children that moved or were added, per parent (4 bytes
/// a parent for the first one's place, 8 bytes per child for the child and the next one's place:
/// a parent's list is found without hashing, and adding or moving a child allocates nothing once
/// the pool has grown).
class live_view {
 public:
  /// Over `base` (whose rows `rows` holds, same ids) with an empty delta. O(rows x links).
  live_view(std::shared_ptr<const graph> base, const live_rows& rows)
      : base_(std::move(base)), rows_(rows), schema_(base_->schema()) {
    const std::size_t n = schema_.entities.size();
    entities_.resize(n);
    const std::vector<int> cluster = detail::cluster_links(schema_);
    const std::size_t total = detail::live::total_rows(*base_);
    for (entity_id e = 0; e < n; ++e) {
      auto& t = entities_[e];
      const auto& def = schema_.entities[e];
      t.base_rows = base_->rows(e);
      t.rows = t.base_rows;
      t.changed.assign(t.base_rows, 0);
      t.delta.reserve(detail::live::with_room(t.base_rows, total) - t.base_rows);
      t.links.resize(def.links.size());
      for (std::uint32_t l = 0; l < def.links.size(); ++l) {
        const auto ps = base_->link(e, l).parents();
        // Room for the rows the delta may hold before the next compaction: appends and puts
        // never move these (a move into fresh pages stalled a batch for 60 ms at 1M rows).
        const std::size_t room = detail::live::with_room(ps.size(), total);
        t.links[l].parents.reserve(room);
        t.links[l].parents.assign(ps.begin(), ps.end());
        t.links[l].extra.reserve(room - ps.size());
        t.links[l].moved.assign(t.base_rows, 0);
        const entity_id to = def.links[l].target;
        // Sized (and touched) now: the first batches then fault no pages in.
        const std::size_t parents = base_->rows(to);
        t.links[l].first.assign(detail::live::with_room(parents, total), 0);
      }
      t.cluster = cluster[e];
      t.key_column = rows.layout().entities[e].key;
    }
  }

  const b2bseg::schema& schema() const noexcept { return schema_; }
  const graph& base() const noexcept { return *base_; }
  const std::shared_ptr<const graph>& base_ptr() const noexcept { return base_; }
  /// Rows of `e`, dead ones included (ids are < this).
  std::size_t rows(entity_id e) const noexcept { return entities_[e].rows; }
  std::size_t base_rows(entity_id e) const noexcept { return entities_[e].base_rows; }
  /// The link whose parents order `e`'s rows in a graph built from the rows (`before`), or -1.
  int cluster_link(entity_id e) const noexcept { return entities_[e].cluster; }
  /// Per base row of `e`, 1 when its values are read from its texts (a change touched it), 0
  /// when they are the base graph's: valid while the view is. O(1).
  std::span<const std::uint8_t> changed(entity_id e) const noexcept { return entities_[e].changed; }
  /// Rows added or changed since the base was built, over all entities.
  std::size_t delta_rows() const noexcept { return delta_rows_; }

  // --- the accessor of row_evaluator ----------------------------------------------------------

  bool alive(entity_id e, row_id r) const noexcept { return !rows_.dead(e, r); }
  std::string_view key(entity_id e, row_id r) const {
    if (from_base(e, r)) return base_->key(e, r);
    return rows_.field(e, r, static_cast<std::uint32_t>(entities_[e].key_column));
  }
  row_id parent(entity_id e, std::uint32_t l, row_id r) const noexcept {
    return entities_[e].links[l].parents[r];
  }
  /// `parent` of every row of `e` (those `refresh` has seen): valid while the view is. O(1).
  std::span<const row_id> parents(entity_id e, std::uint32_t l) const noexcept {
    return entities_[e].links[l].parents;
  }
  /// Calls f(c) for every row c of `s` whose link `l` points at `p` (dead ones included), in no
  /// particular order.
  template <class F>
  void for_each_child(entity_id s, std::uint32_t l, row_id p, F&& f) const {
    const auto& lk = entities_[s].links[l];
    const entity_id to = schema_.entities[s].links[l].target;
    if (p < entities_[to].base_rows)
      base_->link(s, l).for_each_child(p, [&](row_id c) {
        if (!lk.moved[c]) f(c);
      });
    if (p < lk.first.size())
      for (std::uint32_t i = lk.first[p]; i != 0; i = lk.extra[i - 1].next)
        f(lk.extra[i - 1].child);
  }
  /// The children of `p` over `s.l`, in the order a graph built from the current rows would
  /// number them (what float sums add up in).
  void children_in_order(entity_id s, std::uint32_t l, row_id p, std::vector<row_id>& out) const {
    out.clear();
    for_each_child(s, l, p, [&](row_id c) { out.push_back(c); });
    std::sort(out.begin(), out.end(), [&](row_id a, row_id b) { return before(s, a, b); });
  }
  bool is_null(entity_id e, std::uint32_t a, row_id r) const {
    if (from_base(e, r)) return base_->attribute(e, a).is_null(r);
    const std::string& t = text(e, a, r);
    if (schema_.entities[e].attributes[a].type == value_type::string_list)
      return t.find_first_not_of('|') == std::string::npos;
    return t.empty();
  }
  std::int64_t int_at(entity_id e, std::uint32_t a, row_id r) const {
    if (from_base(e, r)) return base_->attribute(e, a).ints()[r];
    std::int64_t x = 0;
    const std::string& t = text(e, a, r);
    if (schema_.entities[e].attributes[a].type == value_type::timestamp)
      parse_timestamp(t, x);
    else
      parse_int64(t, x);
    return x;
  }
  double float_at(entity_id e, std::uint32_t a, row_id r) const {
    if (from_base(e, r)) return base_->attribute(e, a).floats()[r];
    double x = 0;
    parse_double(text(e, a, r), x);
    return x;
  }
  bool bool_at(entity_id e, std::uint32_t a, row_id r) const {
    if (from_base(e, r)) return base_->attribute(e, a).bool_at(r);
    bool x = false;
    parse_bool(text(e, a, r), x);
    return x;
  }
  void strings_at(entity_id e, std::uint32_t a, row_id r,
                  std::vector<std::string_view>& out) const {
    if (from_base(e, r)) return graph_rows(*base_).strings_at(e, a, r, out);
    out.clear();
    std::string_view t = text(e, a, r);
    if (schema_.entities[e].attributes[a].type == value_type::string) {
      if (!t.empty()) out.push_back(t);
      return;
    }
    std::size_t start = 0;
    while (start <= t.size() && !t.empty()) {
      std::size_t bar = t.find('|', start);
      if (bar == std::string_view::npos) bar = t.size();
      if (bar > start) out.push_back(t.substr(start, bar - start));
      start = bar + 1;
    }
  }

  // --- the delta ------------------------------------------------------------------------------

  /// Calls f(r) for every row of `e` that the delta holds (changed base rows, added rows).
  template <class F>
  void for_each_delta_row(entity_id e, F&& f) const {
    for (row_id r : entities_[e].delta) f(r);
  }

  /// Takes row `r` of `e`, just added to the rows (r == rows(e)), with no link set yet; call
  /// `refresh` next. O(links).
  void add_row(entity_id e) {
    auto& t = entities_[e];
    t.delta.push_back(static_cast<row_id>(t.rows));
    ++t.rows;
    for (auto& lk : t.links) lk.parents.push_back(no_row);
    ++delta_rows_;
  }

  /// Row `r` of `e` changed in its texts: values are read from them from now on, and each link
  /// follows its text. Calls moved(l, old_parent, new_parent) for each link whose parent
  /// changed. O(links), plus the moved children lists.
  template <class Moved>
  void refresh(entity_id e, row_id r, Moved&& moved) {
    auto& t = entities_[e];
    if (r < t.base_rows && !t.changed[r]) {
      t.changed[r] = 1;
      t.delta.push_back(r);
      ++delta_rows_;
    }
    const auto& def = schema_.entities[e];
    const auto& cols = rows_.layout().entities[e];
    for (std::uint32_t l = 0; l < def.links.size(); ++l) {
      const std::string& k = rows_.field(e, r, cols.link_column[l]);
      const row_id np = k.empty() ? no_row : rows_.find(def.links[l].target, k);
      auto& lk = t.links[l];
      const row_id op = lk.parents[r];
      if (np == op) continue;
      const bool from_base_list = r < t.base_rows && !lk.moved[r];
      if (!from_base_list && op != no_row) lk.take(op, r);
      const row_id bp = r < t.base_rows ? base_->link(e, l).parent(r) : no_row;
      if (r < t.base_rows && np == bp) {
        lk.moved[r] = 0;  // back in its base list
      } else {
        if (r < t.base_rows) lk.moved[r] = 1;
        if (np != no_row) lk.put(np, r);
      }
      lk.parents[r] = np;
      moved(l, op, np);
    }
  }

 private:
  struct link_delta {
    std::vector<row_id> parents;      ///< current parent of every row
    std::vector<std::uint8_t> moved;  ///< base rows no longer in their base parent's list
    /// Children not in their parent's base list, a chain per parent: `first[p]` is 1 + the
    /// place in `extra` of p's first one (0: none), each item 1 + the next one's (0: the last).
    /// Places freed by `take` are chained from `free` and used again.
    struct item {
      row_id child;
      std::uint32_t next;
    };
    std::vector<std::uint32_t> first;
    std::vector<item> extra;
    std::uint32_t free = 0;

    /// Adds child `c` to parent `p`'s chain. O(1) amortized.
    void put(row_id p, row_id c) {
      if (first.size() <= p) first.resize(p + p / 8 + 64, 0);
      std::uint32_t i = free;
      if (i != 0) {
        free = extra[i - 1].next;
      } else {
        extra.push_back({});
        i = static_cast<std::uint32_t>(extra.size());
      }
      extra[i - 1] = {c, first[p]};
      first[p] = i;
    }
    /// Removes child `c`, which is in parent `p`'s chain. O(length of the chain).
    void take(row_id p, row_id c) {
      for (std::uint32_t* at = &first[p]; *at != 0; at = &extra[*at - 1].next) {
        item& x = extra[*at - 1];
        if (x.child != c) continue;
        const std::uint32_t i = *at;
        *at = x.next;
        x.next = free;
        free = i;
        return;
      }
    }
  };
  struct entity_delta {
    std::size_t base_rows = 0, rows = 0;
    std::vector<std::uint8_t> changed;  ///< base rows whose values are read from text
    std::vector<row_id> delta;          ///< changed base rows and added rows
    std::vector<link_delta> links;
    int cluster = -1;  ///< the link the loader numbers rows by
    int key_column = -1;
  };

  bool from_base(entity_id e, row_id r) const noexcept {
    const auto& t = entities_[e];
    return r < t.base_rows && !t.changed[r];
  }
  const std::string& text(entity_id e, std::uint32_t a, row_id r) const {
    return rows_.field(e, r, rows_.layout().entities[e].attribute_column[a]);
  }

  /// Whether a graph built from the current rows numbers a before b (table_builder's order:
  /// by the cluster link's parent, unset last, then by key, else by the order rows came in).
  bool before(entity_id s, row_id a, row_id b) const {
    if (a == b) return false;
    const auto& t = entities_[s];
    if (t.cluster >= 0) {
      const row_id pa = t.links[t.cluster].parents[a], pb = t.links[t.cluster].parents[b];
      if (pa != pb) {
        if (pa == no_row) return false;
        if (pb == no_row) return true;
        return before(schema_.entities[s].links[t.cluster].target, pa, pb);
      }
    }
    if (t.key_column >= 0) return rows_.field(s, a, t.key_column) < rows_.field(s, b, t.key_column);
    return a < b;
  }

  std::shared_ptr<const graph> base_;
  const live_rows& rows_;
  const b2bseg::schema& schema_;
  std::vector<entity_delta> entities_;
  std::size_t delta_rows_ = 0;
};

}  // namespace b2bseg
