// Where rows live in a scale-out run (SPEC 8), and which of their neighbours a process must also
// hold so that its own rows evaluate exactly as in a single process.
#pragma once

#include <xxhash.h>

#include <algorithm>
#include <cstdint>
#include <set>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "b2bseg/common/error.hpp"
#include "b2bseg/lang/bound.hpp"
#include "b2bseg/storage/schema.hpp"

namespace b2bseg::dist {

/// How the rows of one entity are placed.
struct placement {
  enum class kind : std::uint8_t {
    partition,   ///< the partition entity: by the hash of the row's key
    follows,     ///< with the row its link `link` points to (by own key/line when unset)
    everywhere,  ///< leads to no partition row: on every process (home: by own key/line)
  };
  kind k = kind::everywhere;
  int link = -1;   ///< follows: the link followed
  int level = -1;  ///< links from the partition entity (0 for it); -1: everywhere
};

/// The process of a value: XXH3-64 of its bytes mod `n` (SPEC 8). O(size).
inline int rank_of(std::string_view bytes, int n) noexcept {
  return static_cast<int>(XXH3_64bits(bytes.data(), bytes.size()) % static_cast<std::uint64_t>(n));
}

/// The process of an unkeyed row that leads to no partition row: by its line in its file.
inline int rank_of_line(std::uint64_t line, int n) noexcept {
  return static_cast<int>(XXH3_64bits(&line, sizeof line) % static_cast<std::uint64_t>(n));
}

/// Placement of every entity of `s`, which must name a partition entity. An entity follows the
/// first of its links (in schema order) that points to an entity nearer the partition entity;
/// an entity with no such link (campaigns, lists) is everywhere. So the chain of a row's
/// followed links ends at a partition row, and rows of one account stay together. O(entities x
/// links). Throws data_error when the schema has no partition (the message says how to add one).
inline std::vector<placement> place_entities(const schema& s) {
  const entity_id root = s.find_entity(s.partition);
  if (s.partition.empty() || root == no_entity)
    throw data_error(
        "schema.json names no partition entity: a run over several processes needs one, e.g. "
        "\"partition\": \"account\" at its top level (SPEC 8)");
  std::vector<placement> out(s.entities.size());
  out[root] = {placement::kind::partition, -1, 0};
  for (int level = 1; level <= static_cast<int>(s.entities.size()); ++level) {
    bool more = false;
    for (entity_id e = 0; e < s.entities.size(); ++e) {
      if (out[e].level >= 0) continue;
      const auto& links = s.entities[e].links;
      for (std::size_t l = 0; l < links.size(); ++l) {
        const entity_id t = links[l].target;
        if (t != e && out[t].level >= 0 && out[t].level < level) {
          out[e] = {placement::kind::follows, static_cast<int>(l), level};
          more = true;
          break;
        }
      }
    }
    if (!more) break;
  }
  return out;
}

/// One kind of step between rows: along link `link` of entity `from` (forward, to its target),
/// or back from the target to the rows of `from` that point at it (reverse).
struct step {
  entity_id from = no_entity;
  std::uint32_t link = 0;
  bool reverse = false;
  auto operator<=>(const step&) const = default;
};

/// What evaluating some segments reads around a row: at most `depth` steps, each of a kind in
/// `steps`. A process that holds its own rows and every row reachable from them that way (and
/// the targets of every link of what it holds) evaluates its own rows exactly.
struct reach {
  std::size_t depth = 0;
  std::set<step> steps;
};

namespace detail {

inline std::size_t hops(const std::vector<link_hop>& path, reach& r) {
  for (const link_hop& h : path) r.steps.insert({h.from, h.link, false});
  return path.size();
}

inline std::size_t expr_reach(const bound_file& f, const bound_expr& x, reach& r,
                              std::vector<int>& seg_depth);

inline std::size_t segment_reach(const bound_file& f, std::uint32_t i, reach& r,
                                 std::vector<int>& seg_depth) {
  if (seg_depth[i] >= 0) return static_cast<std::size_t>(seg_depth[i]);
  const std::size_t d = expr_reach(f, *f.segments[i].where, r, seg_depth);
  seg_depth[i] = static_cast<int>(d);
  return d;
}

inline std::size_t expr_reach(const bound_file& f, const bound_expr& x, reach& r,
                              std::vector<int>& seg_depth) {
  using K = bound_expr::kind;
  std::size_t inner = 0;
  for (const auto& c : x.children) inner = std::max(inner, expr_reach(f, *c, r, seg_depth));
  switch (x.k) {
    case K::constant:
      return 0;
    case K::compare:
    case K::in_list:
    case K::between:
    case K::like:
    case K::is_null:
    case K::link_is_null:
      return x.bucket ? 0 : hops(x.attr.path, r);
    case K::compare_attrs:
      return std::max(hops(x.attr.path, r), hops(x.attr2.path, r));
    case K::and_:
    case K::or_:
    case K::not_:
      return inner;
    case K::quantified:
    case K::count:
    case K::aggregate:
    case K::sequence: {
      const std::size_t before = hops(x.rel.path, r);
      r.steps.insert({x.rel.source, x.rel.link, true});
      std::size_t below = inner;
      if (x.k == K::aggregate || x.k == K::sequence) below = std::max(below, hops(x.attr.path, r));
      return before + 1 + below;
    }
    case K::in_segment: {
      const std::size_t before = hops(x.attr.path, r);
      return before + segment_reach(f, x.segment, r, seg_depth);
    }
    case K::top: {
      if (x.per_link < 0)
        throw data_error(f.file, x.pos.line, x.pos.column,
                         "top(...) without 'per' ranks every row of the entity together, which a "
                         "run over several processes does not do yet; add 'per LINK' or run in "
                         "one process");
      const auto l = static_cast<std::uint32_t>(x.per_link);
      r.steps.insert({x.context, l, false});
      r.steps.insert({x.context, l, true});
      return 2 + inner;
    }
  }
  return inner;
}

}  // namespace detail

/// The reach of the segments numbered in `selected` (all when empty) and those they use.
/// O(tree size). Throws data_error (at the expression) for what several processes cannot
/// evaluate yet: `top` without `per`.
inline reach segments_reach(const bound_file& f, const std::vector<std::uint32_t>& selected = {}) {
  reach r;
  std::vector<int> seg_depth(f.segments.size(), -1);
  if (selected.empty()) {
    for (std::uint32_t i = 0; i < f.segments.size(); ++i)
      r.depth = std::max(r.depth, detail::segment_reach(f, i, r, seg_depth));
  } else {
    for (std::uint32_t i : selected)
      r.depth = std::max(r.depth, detail::segment_reach(f, i, r, seg_depth));
  }
  return r;
}

/// Adds to `r` what activation fields read around a row of their context entity: an attribute's
/// path; a count's or aggregate's path, the related rows and what its filter reads from them
/// (`f` as for segments_reach; field filters name no segments). O(size of the fields).
inline void fields_reach(const bound_file& f, const std::vector<const bound_field*>& fields,
                         reach& r) {
  std::vector<int> seg_depth(f.segments.size(), -1);
  for (const bound_field* x : fields) {
    std::size_t d = 0;
    if (x->k == bound_field::kind::attribute) {
      d = detail::hops(x->attr.path, r);
    } else {
      d = detail::hops(x->rel.path, r);
      r.steps.insert({x->rel.source, x->rel.link, true});
      d += 1 + (x->filter ? detail::expr_reach(f, *x->filter, r, seg_depth) : 0);
    }
    r.depth = std::max(r.depth, d);
  }
}

}  // namespace b2bseg::dist
