// The rows of a loaded graph as `row_evaluator` reads them: one plan node for one row, straight
// from the graph's columns and links (what `why` evaluates through).
#pragma once

#include <string_view>
#include <vector>

#include "b2bseg/lang/bound.hpp"
#include "b2bseg/storage/graph.hpp"

namespace b2bseg {

namespace detail {

/// The row of `to` that `row` reaches through `hops`, or no_row at an unset link.
inline row_id follow_hops(const graph& g, const std::vector<link_hop>& hops, row_id row) noexcept {
  for (const link_hop& h : hops) {
    if (row == no_row) return no_row;
    row = g.link(h.from, h.link).parent(row);
  }
  return row;
}

}  // namespace detail

/// The accessor of `row_evaluator` over an immutable graph: every row alive, children in the
/// order the kernels visit them (ascending ids). Holds a reference; the graph must outlive it.
/// Every call O(1) but for_each_child and children_in_order (O(children)).
class graph_rows {
 public:
  explicit graph_rows(const graph& g) noexcept : g_(g) {}

  const b2bseg::schema& schema() const noexcept { return g_.schema(); }
  std::size_t rows(entity_id e) const noexcept { return g_.rows(e); }
  bool alive(entity_id, row_id) const noexcept { return true; }
  std::string_view key(entity_id e, row_id r) const { return g_.key(e, r); }
  row_id parent(entity_id e, std::uint32_t l, row_id r) const noexcept {
    return g_.link(e, l).parent(r);
  }
  template <class F>
  void for_each_child(entity_id s, std::uint32_t l, row_id p, F&& f) const {
    g_.link(s, l).for_each_child(p, f);
  }
  void children_in_order(entity_id s, std::uint32_t l, row_id p, std::vector<row_id>& out) const {
    out.clear();
    for_each_child(s, l, p, [&](row_id c) { out.push_back(c); });
  }
  bool is_null(entity_id e, std::uint32_t a, row_id r) const {
    return g_.attribute(e, a).is_null(r);
  }
  std::int64_t int_at(entity_id e, std::uint32_t a, row_id r) const {
    return g_.attribute(e, a).ints()[r];
  }
  double float_at(entity_id e, std::uint32_t a, row_id r) const {
    return g_.attribute(e, a).floats()[r];
  }
  bool bool_at(entity_id e, std::uint32_t a, row_id r) const {
    return g_.attribute(e, a).bool_at(r);
  }
  /// The value of a string attribute, or the elements of a string[] one; nothing when null.
  void strings_at(entity_id e, std::uint32_t a, row_id r,
                  std::vector<std::string_view>& out) const {
    out.clear();
    const column& c = g_.attribute(e, a);
    if (c.is_null(r)) return;
    if (c.type() == value_type::string)
      out.push_back(c.string_at(r));
    else
      for (auto code : c.list_at(r)) out.push_back(c.dictionary()[code]);
  }

 private:
  const graph& g_;
};

}  // namespace b2bseg
