// The bound segment tree: the output of the binder, with every name resolved against the schema
// and every literal typed. The planner and the tests' reference evaluator both consume it.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "b2bseg/common/types.hpp"
#include "b2bseg/storage/schema.hpp"

namespace b2bseg {

/// A place in a segments file, 1-based.
/// The longest segment name, in bytes: results go to `NAME.csv`, and file names stop at 255.
constexpr std::size_t max_segment_name = 200;

struct source_pos {
  std::uint32_t line = 0;
  std::uint32_t column = 0;
};

/// One to-one hop: from entity `from`, follow its link number `link` (to `schema.entities[from]
/// .links[link].target`).
struct link_hop {
  entity_id from = no_entity;
  std::uint32_t link = 0;
};

/// An attribute reached from the context entity through zero or more to-one hops.
/// `entity` is the entity that owns the attribute (the context when `path` is empty).
struct attr_ref {
  std::vector<link_hop> path;
  entity_id entity = no_entity;
  std::uint32_t attribute = 0;
  value_type type = value_type::string;
};

/// A to-many relation from the context: zero or more to-one hops, then one reverse link. The
/// related entities are of type `source` (the entity whose link `link` points back).
struct relation_ref {
  std::vector<link_hop> path;    ///< to-one hops before the reverse
  entity_id owner = no_entity;   ///< entity on which the reverse is navigated (end of `path`)
  std::uint32_t reverse = 0;     ///< index into schema.entities[owner].reverses
  entity_id source = no_entity;  ///< the related entity type (= reverses[reverse].source)
  std::uint32_t link = 0;        ///< the link of `source` that points at `owner`
};

/// A typed literal. For `timestamp`, `relative` means `now + offset_us` (offset may be negative),
/// resolved at evaluation time from the as-of instant; otherwise `t` is absolute.
/// Numbers (compared with an int or float attribute, or in a `number_test`): `type` is `floating`
/// when the attribute (or aggregate result: avg of an int is floating) is float or the literal
/// was written with a fraction or exponent, else `integer`. `f` always holds the value; `i` holds
/// it exactly when it was written as an integer (and is 0 otherwise). So read `i` when `type` is
/// `integer` and `f` when it is `floating`. A literal compared with a string[] attribute is typed
/// `string`.
struct literal {
  value_type type = value_type::string;  ///< string, integer, floating, boolean or timestamp
  std::string s;
  /// The number was written as an integer, so `i` holds it exactly even when `type` is
  /// `floating` (2^53 + 1 compared with a float attribute must not become 2^53).
  bool integral = false;
  std::int64_t i = 0;
  double f = 0;
  bool b = false;
  timestamp_us t = 0;
  bool relative = false;
  std::int64_t offset_us = 0;
};

namespace detail {
/// The exact value of a numeric literal: an integer written as such stays exact even when typed
/// floating (long double holds every int64 and every double exactly).
inline long double literal_number(const literal& l) noexcept {
  switch (l.type) {
    case value_type::floating:
      return l.integral ? static_cast<long double>(l.i) : l.f;
    case value_type::timestamp:
      return static_cast<long double>(l.t);
    case value_type::boolean:
      return l.b;
    default:
      return static_cast<long double>(l.i);
  }
}
}  // namespace detail

enum class cmp_op : std::uint8_t { eq, ne, lt, le, gt, ge };
enum class aggregate_fn : std::uint8_t { count, sum, avg, min, max };
enum class quantifier : std::uint8_t { any, none, all };

/// `bucket("SALT", N)` (SPEC 3.5) standing where an int attribute would in a comparison.
struct bucket_ref {
  std::string salt;
  std::uint64_t n = 1;  ///< 1 <= n <= 2^31
};

/// One key of a `top` ranking: an attribute of the ranked entity, ascending unless `desc`.
struct order_key {
  std::uint32_t attribute = 0;
  value_type type = value_type::integer;
  bool desc = false;
};

/// A numeric condition on a count or aggregate: `op value` or, when `between`, `lo <= x <= hi`.
struct number_test {
  bool between = false;
  cmp_op op = cmp_op::eq;
  literal value;  ///< or `lo` when between
  literal hi;     ///< only when between
};

/// A node of the bound tree. Which fields are used depends on `kind` (listed per kind).
struct bound_expr {
  enum class kind : std::uint8_t {
    constant,       ///< `constant`
    compare,        ///< `attr op value` (a bool attribute alone binds to `attr = true`); in
                    ///< compare, in_list and between, `bucket` (when set) replaces `attr`
    compare_attrs,  ///< `attr op attr2` (int and float may mix)
    in_list,        ///< `attr in (values)`; `negated` for `not in`
    between,        ///< `value <= attr <= hi`; `within last D` binds to between [now-D, now]
                    ///< and `within next D` to [now, now+D] with relative timestamp literals
    like,           ///< `attr like pattern` (value.s); `case_insensitive` for ilike
    is_null,        ///< `attr is null`; `negated` for `is not null`
    link_is_null,   ///< `path is null` (hops in `attr.path`, the last hop is the tested link);
                    ///< `negated` for `is not null`
    and_,           ///< all `children`
    or_,            ///< any of `children`
    not_,           ///< complement of `children[0]` over the context entity
    quantified,     ///< `rel.any/none/all(children[0] or nothing)`, `quant`
    count,          ///< `rel[.where(P)].count(P?) test`: `children[0]` is the filter if any
    aggregate,      ///< `rel[.where(P)].fn(attr) test`: `attr` is an attribute of `rel.source`
    in_segment,     ///< `[path.]in_segment("name")`: `segment` index, hops in `attr.path`
    sequence,       ///< `rel.sequence(TS, P1 then P2 ...)`: `attr` is TS (a timestamp of
                    ///< `rel.source`), `children` the steps, `within_us` the bound if any
    top,            ///< `top(N, by ..., per L, where P)`: `top_n`, `order`, `per_link` (-1: one
                    ///< group), `children[0]` the condition P if any
  };

  kind k = kind::constant;
  source_pos pos;
  entity_id context = no_entity;  ///< the entity this expression is evaluated over

  bool constant = false;
  attr_ref attr;
  attr_ref attr2;
  cmp_op op = cmp_op::eq;
  literal value;
  literal hi;
  std::vector<literal> values;
  bool negated = false;
  bool case_insensitive = false;
  relation_ref rel;
  quantifier quant = quantifier::any;
  aggregate_fn fn = aggregate_fn::count;
  number_test test;
  std::uint32_t segment = 0;
  std::optional<bucket_ref> bucket;       ///< compare, in_list, between: the subject is this bucket
  std::optional<std::int64_t> within_us;  ///< sequence: time(last) - time(first) <= this
  std::uint64_t top_n = 0;                ///< top
  std::vector<order_key> order;           ///< top
  int per_link = -1;                      ///< top: link of `context` whose target groups
  std::vector<std::unique_ptr<bound_expr>> children;
  /// The sub-expression as written in the segments file (line ends and indentation as single
  /// spaces), or what a node the compiler made up stands for; what `why` prints.
  std::string text;
};

/// One compiled segment definition.
struct bound_segment {
  std::string name;
  entity_id entity = no_entity;  ///< the `on` entity (always has a key)
  source_pos pos;
  std::unique_ptr<bound_expr> where;
  std::vector<std::uint32_t> depends_on;  ///< indices of segments referenced (directly)
};

/// A compiled segments file. `segments` are in file order; `order` lists their indices so that
/// every segment comes after the segments it references (a topological order).
struct bound_file {
  std::string file;
  std::vector<bound_segment> segments;
  std::vector<std::uint32_t> order;

  /// Index of segment `n` or -1. O(segments).
  int find(const std::string& n) const noexcept {
    for (std::size_t i = 0; i < segments.size(); ++i)
      if (segments[i].name == n) return static_cast<int>(i);
    return -1;
  }
};

/// A compiled field expression (SPEC 6): the value of an attribute reached through to-one links,
/// or a count or aggregate over a relation. Evaluated per member of a segment by `activate`.
struct bound_field {
  enum class kind : std::uint8_t {
    attribute,  ///< `attr`: path from the context entity, then the attribute
    count,      ///< `rel`, `filter`: related rows that pass
    aggregate,  ///< `rel`, `filter`, `fn` of `attr` (an attribute of rel.source)
  };
  kind k = kind::attribute;
  entity_id context = no_entity;
  attr_ref attr;
  relation_ref rel;
  aggregate_fn fn = aggregate_fn::count;
  std::unique_ptr<bound_expr> filter;    ///< over rel.source; null = every related row
  value_type type = value_type::string;  ///< the type of the value (count: int; avg of int: float)
};

}  // namespace b2bseg
