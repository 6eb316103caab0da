// `why` (SPEC 4): one entity's way through a segment's condition. Every sub-expression becomes a
// node, true or false for that entity, with the related counts and the values that decided it.
// The truth of each node comes from the segment's own plan, evaluated for the rows it needs with
// `row_evaluator` (the kernels' definitions, row by row), so `why` agrees with `evaluate`.
#pragma once

#include <algorithm>
#include <cstdint>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "b2bseg/common/bucket.hpp"
#include "b2bseg/common/error.hpp"
#include "b2bseg/common/exact.hpp"
#include "b2bseg/common/parse.hpp"
#include "b2bseg/detail/json.hpp"
#include "b2bseg/exec/graph_rows.hpp"
#include "b2bseg/exec/row_eval.hpp"
#include "b2bseg/lang/bound.hpp"
#include "b2bseg/plan/planner.hpp"
#include "b2bseg/storage/graph.hpp"

namespace b2bseg {

/// One sub-expression of a segment's condition, for one entity.
///
/// A node of the segment's own entity is true or false for that entity. A node inside a
/// relation (`events.any(type = "x")`: the `type = "x"` node) is about the related entities:
/// it is true when at least one of them satisfies it, and `count` says how many do.
struct why_node {
  std::string text;  ///< the sub-expression as written
  bool value = false;
  /// Relations (`any`, `count`, aggregates): the related entities that satisfy the relation's
  /// condition (all of them without one). Nodes inside a relation: the related entities that
  /// satisfy the node. Absent otherwise.
  std::optional<std::uint64_t> count;
  /// The value compared, as JSON (`"VP"`, `42`, `"2026-11-02T10:00:00Z"`, `null`): the attribute
  /// of a comparison, the count of `count()`, the aggregate of `sum`... Empty when there is none
  /// (and/or/not, in_segment, nodes inside a relation).
  std::string actual;
  std::vector<why_node> children;
};

/// The answer of `why` for one entity and one segment.
struct why_result {
  std::string segment;
  entity_id entity = no_entity;
  std::string key;
  bool member = false;
  why_node tree;
};

/// Attribute `a` of row `r` of `e` as JSON (`null`, a number, `true`, a string, an array of
/// strings; timestamps as ISO 8601 strings), read through accessor `rows` (`graph_rows`,
/// `live_view`: exec/row_eval.hpp). O(value).
template <class V>
std::string value_json_at(const V& rows, entity_id e, std::uint32_t a, row_id r) {
  if (rows.is_null(e, a, r)) return "null";
  std::string out;
  switch (rows.schema().entities[e].attributes[a].type) {
    case value_type::integer:
      detail::append_int128(out, rows.int_at(e, a, r));
      break;
    case value_type::floating:
      detail::append_double(out, rows.float_at(e, a, r));
      break;
    case value_type::boolean:
      out = rows.bool_at(e, a, r) ? "true" : "false";
      break;
    case value_type::timestamp:
      detail::append_json_string(out, format_timestamp(rows.int_at(e, a, r)));
      break;
    case value_type::string:
    case value_type::string_list: {
      std::vector<std::string_view> v;
      rows.strings_at(e, a, r, v);
      const bool list = rows.schema().entities[e].attributes[a].type == value_type::string_list;
      if (!list) {
        detail::append_json_string(out, v.empty() ? std::string_view{} : v[0]);
        break;
      }
      out = "[";
      for (std::size_t i = 0; i < v.size(); ++i) {
        if (i) out += ", ";
        detail::append_json_string(out, v[i]);
      }
      out += "]";
      break;
    }
  }
  return out;
}

namespace detail::inspect {

/// Builds the why tree of one segment for one row, reading the rows through accessor `V`
/// (`graph_rows` over a graph, `live_view` over a live dataset). One instance per question; not
/// thread-safe.
template <class V>
class why_builder {
 public:
  why_builder(const V& rows, const bound_file& f, timestamp_us as_of)
      : f_(f), planner_(rows.schema(), f, as_of), rows_(rows), eval_(rows_) {}

  why_result run(std::uint32_t segment, row_id row) {
    const bound_segment& seg = f_.segments[segment];
    const std::uint32_t root = planner_.segment_root(segment);
    lower_all(*seg.where);
    plan_ = planner_.take({});
    prepared_.resize(plan_.nodes.size());
    why_result out;
    out.segment = seg.name;
    out.entity = seg.entity;
    out.key = std::string(rows_.key(seg.entity, row));
    out.member = bit(root, row);
    const std::vector<row_id> scope{row};
    out.tree = node(*seg.where, scope, false);
    return out;
  }

 private:
  // Lowers every sub-expression, so each has its plan node (shared ones come back the same).
  void lower_all(const bound_expr& e) {
    ids_[&e] = planner_.lower(e);
    for (const auto& c : e.children) lower_all(*c);
  }

  // Whether row `r` is in plan node `i`'s set, memoized.
  bool bit(std::uint32_t i, row_id r) {
    const std::uint64_t k = (std::uint64_t(i) << 32) | r;
    if (auto it = memo_.find(k); it != memo_.end()) return it->second;
    const plan_node& n = plan_.nodes[i];
    if (!prepared_[i]) prepared_[i] = prepare_node(rows_.schema(), n);
    const bool v =
        eval_(n, *prepared_[i], r, [this](std::uint32_t in, row_id x) { return bit(in, x); });
    memo_.emplace(k, v);
    return v;
  }

  // The row `hops` lead to from `r`, or no_row at an unset link.
  row_id follow(const std::vector<link_hop>& hops, row_id r) const {
    for (const link_hop& h : hops) {
      if (r == no_row) return no_row;
      r = rows_.parent(h.from, h.link, r);
    }
    return r;
  }

  // The live rows related through `rel` to any row of `scope`, each once: in the order a graph
  // numbers them for one row (what float sums add up in), ascending ids for several.
  std::vector<row_id> related(const relation_ref& rel, const std::vector<row_id>& scope) const {
    std::vector<row_id> out, kids;
    for (row_id r : scope) {
      const row_id owner = follow(rel.path, r);
      if (owner == no_row) continue;
      rows_.children_in_order(rel.source, rel.link, owner, kids);
      for (row_id c : kids)
        if (rows_.alive(rel.source, c)) out.push_back(c);
    }
    if (scope.size() > 1) {
      std::sort(out.begin(), out.end());
      out.erase(std::unique(out.begin(), out.end()), out.end());
    }
    return out;
  }

  // The node of `e` over the rows of `scope` (of e.context): one row, the entity asked about
  // or one reached from it through to-one links; or, `inside` a relation, the related rows.
  why_node node(const bound_expr& e, const std::vector<row_id>& scope, bool inside) {
    using K = bound_expr::kind;
    why_node out;
    out.text = e.text;
    const std::uint32_t id = ids_.at(&e);
    std::uint64_t holds = 0;
    for (row_id r : scope) holds += bit(id, r);
    out.value = holds > 0;
    if (inside) out.count = holds;
    const bool one = !inside && scope.size() == 1;
    switch (e.k) {
      case K::and_:
      case K::or_:
      case K::not_:
        for (const auto& c : e.children) out.children.push_back(node(*c, scope, inside));
        break;
      case K::quantified:
      case K::count:
      case K::aggregate: {
        const std::vector<row_id> rel = related(e.rel, scope);
        const bound_expr* filter = e.children.empty() ? nullptr : e.children[0].get();
        std::uint64_t passing = rel.size();
        if (filter) {
          passing = 0;
          const std::uint32_t fid = ids_.at(filter);
          for (row_id c : rel) passing += bit(fid, c);
        }
        out.count = passing;
        if (one && e.k == K::count) out.actual = std::to_string(passing);
        if (one && e.k == K::aggregate) out.actual = aggregate_json(e, rel, filter);
        if (filter) out.children.push_back(node(*filter, rel, true));
        break;
      }
      case K::sequence: {
        // The related rows with a time that meet some step; each step counts its own.
        const std::vector<row_id> rel = related(e.rel, scope);
        std::uint64_t meeting = 0;
        for (row_id c : rel) {
          if (rows_.is_null(e.rel.source, e.attr.attribute, c)) continue;
          bool any = false;
          for (const auto& step : e.children) any = any || bit(ids_.at(step.get()), c);
          meeting += any;
        }
        out.count = meeting;
        for (const auto& step : e.children) out.children.push_back(node(*step, rel, true));
        break;
      }
      case K::top:
        if (one && plan_.nodes[id].op == plan_op::top) {  // the rank from 1; null: in no group
          const std::uint64_t k = eval_.rank(
              plan_.nodes[id], scope[0], [this](std::uint32_t in, row_id x) { return bit(in, x); });
          out.actual = k == ~std::uint64_t{0} ? "null" : std::to_string(k + 1);
        }
        for (const auto& c : e.children) out.children.push_back(node(*c, scope, inside));
        break;
      case K::compare:
      case K::in_list:
      case K::between:
      case K::like:
      case K::is_null:
      case K::compare_attrs:
        if (one) out.actual = subject_json(e, scope[0]);
        break;
      default:  // constant, link_is_null, in_segment: the value says it all
        break;
    }
    return out;
  }

  // The value `e` compares for row `r`, as JSON.
  std::string subject_json(const bound_expr& e, row_id r) const {
    if (e.bucket) {
      bucket_hasher h(e.bucket->salt, e.bucket->n);
      return std::to_string(h(rows_.key(e.context, r)));
    }
    const row_id at = follow(e.attr.path, r);
    if (at == no_row) return "null";
    return value_json_at(rows_, e.attr.entity, e.attr.attribute, at);
  }

  // The aggregate `e.fn` of `e.attr` over the rows of `rel` that pass `filter`, as JSON: exact
  // for int sums, the nearest double for averages, null when no value counts (sum: 0).
  std::string aggregate_json(const bound_expr& e, const std::vector<row_id>& rel,
                             const bound_expr* filter) {
    const entity_id ae = e.attr.entity;
    const std::uint32_t aa = e.attr.attribute;
    const value_type type = rows_.schema().entities[ae].attributes[aa].type;
    const bool is_float = type == value_type::floating;
    const bool is_time = type == value_type::timestamp;
    std::uint64_t n = 0;
    int128 isum = 0;
    double fsum = 0;
    long double best = 0;
    const std::uint32_t fid = filter ? ids_.at(filter) : 0;
    for (row_id r : rel) {
      if ((filter && !bit(fid, r)) || rows_.is_null(ae, aa, r)) continue;
      const double f = is_float ? rows_.float_at(ae, aa, r) : 0;
      const std::int64_t i = is_float ? 0 : rows_.int_at(ae, aa, r);
      const long double x = is_float ? static_cast<long double>(f) : static_cast<long double>(i);
      if (is_float)
        fsum += f;
      else
        isum += i;
      if (n == 0 || (e.fn == aggregate_fn::min ? x < best : x > best)) best = x;
      ++n;
    }
    std::string out;
    auto number = [&](long double x) {
      if (is_time) {
        append_json_string(out, format_timestamp(static_cast<timestamp_us>(x)));
      } else if (is_float || e.fn == aggregate_fn::avg) {
        append_double(out, static_cast<double>(x));
      } else {
        append_int128(out, static_cast<int128>(x));
      }
    };
    switch (e.fn) {
      case aggregate_fn::count:
        return std::to_string(n);
      case aggregate_fn::sum:
        if (is_float)
          append_double(out, fsum);
        else
          append_int128(out, isum);
        return out;
      case aggregate_fn::avg:
        if (n == 0) return "null";
        if (is_float)
          append_double(out, fsum / static_cast<double>(n));
        else if (is_time)
          number(static_cast<long double>(isum / static_cast<int128>(n)));
        else
          append_double(out, nearest_double(isum, n));
        return out;
      case aggregate_fn::min:
      case aggregate_fn::max:
        if (n == 0) return "null";
        number(best);
        return out;
    }
    return out;
  }

  const bound_file& f_;
  detail::planner planner_;
  b2bseg::plan plan_;
  const V& rows_;
  row_evaluator<V> eval_;
  std::unordered_map<const bound_expr*, std::uint32_t> ids_;
  std::vector<std::optional<prepared_node>> prepared_;
  std::unordered_map<std::uint64_t, bool> memo_;
};

inline void append_why_json(std::string& out, const why_node& n) {
  out += "{\"text\": ";
  append_json_string(out, n.text);
  out += n.value ? ", \"value\": true" : ", \"value\": false";
  if (n.count) out += ", \"count\": " + std::to_string(*n.count);
  if (!n.actual.empty()) out += ", \"actual\": " + n.actual;
  out += ", \"children\": [";
  for (std::size_t i = 0; i < n.children.size(); ++i) {
    if (i) out += ", ";
    append_why_json(out, n.children[i]);
  }
  out += "]}";
}

inline void append_why_text(std::string& out, const why_node& n, const std::string& lead,
                            const std::string& more) {
  out += lead;
  out += n.value ? "true   " : "false  ";
  out += n.text;
  std::string notes;
  if (n.count) notes += "count " + std::to_string(*n.count);
  if (!n.actual.empty()) notes += (notes.empty() ? "" : ", ") + ("actual " + n.actual);
  if (!notes.empty()) out += "  [" + notes + "]";
  out += '\n';
  for (std::size_t i = 0; i < n.children.size(); ++i) {
    const bool last = i + 1 == n.children.size();
    append_why_text(out, n.children[i], more + (last ? "└─ " : "├─ "),
                    more + (last ? "   " : "│  "));
  }
}

}  // namespace detail::inspect

/// Why row `row` of segment `segment`'s entity is, or is not, a member (SPEC 4, `why`): the
/// condition's tree with each node's truth, related counts and compared values, as of `as_of`.
/// `f` must be compiled against `g`'s schema. Cost: the plan nodes the answer needs, for the
/// rows it needs (a relation visits the related rows), each once; typically well under a
/// millisecond. Throws data_error for a segment index out of range or a row out of range.
inline why_result explain_membership(const graph& g, const bound_file& f, std::uint32_t segment,
                                     row_id row, timestamp_us as_of) {
  if (segment >= f.segments.size()) throw data_error("why: no segment " + std::to_string(segment));
  if (row >= g.rows(f.segments[segment].entity))
    throw data_error("why: no row " + std::to_string(row));
  const graph_rows rows(g);
  return detail::inspect::why_builder<graph_rows>(rows, f, as_of).run(segment, row);
}

/// The same over any row accessor of `row_evaluator` (a `live_view`: the live engine's current
/// rows, as `serve` answers it). Row `row` must be alive.
template <class V>
why_result explain_membership_in(const V& rows, const bound_file& f, std::uint32_t segment,
                                 row_id row, timestamp_us as_of) {
  if (segment >= f.segments.size()) throw data_error("why: no segment " + std::to_string(segment));
  const entity_id e = f.segments[segment].entity;
  if (row >= rows.rows(e) || !rows.alive(e, row))
    throw data_error("why: no row " + std::to_string(row));
  return detail::inspect::why_builder<V>(rows, f, as_of).run(segment, row);
}

/// `why --json` (SPEC 4): `{"segment": S, "key": K, "member": B, "tree": NODE}` and a newline.
inline std::string why_json(const why_result& w) {
  std::string out = "{\"segment\": ";
  detail::append_json_string(out, w.segment);
  out += ", \"key\": ";
  detail::append_json_string(out, w.key);
  out += w.member ? ", \"member\": true, \"tree\": " : ", \"member\": false, \"tree\": ";
  detail::inspect::append_why_json(out, w.tree);
  out += "}\n";
  return out;
}

/// `why` as a readable tree: a line for the answer, then one per node (true/false, the text,
/// then `[count N, actual V]` where known), children indented under their parent.
inline std::string why_text(const why_result& w, const schema& s) {
  std::string out = "segment " + w.segment + " on " + s.entities[w.entity].name + " \"" + w.key +
                    "\": " + (w.member ? "member" : "not a member") + "\n";
  detail::inspect::append_why_text(out, w.tree, "", "");
  return out;
}

}  // namespace b2bseg
