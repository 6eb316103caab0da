// The logical plan: a DAG of set operations over dense-id row sets, shared across segments.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "b2bseg/lang/bound.hpp"
#include "b2bseg/storage/schema.hpp"

namespace b2bseg {

/// The operation of a plan node. Every node yields the set of rows of `plan_node::entity` for
/// which it holds.
enum class plan_op : std::uint8_t {
  all,            ///< every row
  empty,          ///< no row
  scan,           ///< a predicate on the entity's own attributes or links (`plan_node::pred`)
  and_,           ///< intersection of `inputs`
  or_,            ///< union of `inputs`
  not_,           ///< complement of `inputs[0]`
  to_one,         ///< rows whose link `link` is set and whose parent is in `inputs[0]`
  rev_count,      ///< rows whose number of children over `source.link` in `inputs[0]` passes `test`
  rev_aggregate,  ///< rows whose `fn` of `source.attribute` over children in `inputs[0]` passes
                  ///< `test`
  rev_sequence,   ///< rows with children over `source.link` in inputs[0], inputs[1], ... in
                  ///< strictly increasing `source.attribute` (a timestamp), within `within_us`
  top,            ///< rows in `inputs[0]` among the first `top_n` of their group (`per_link`)
                  ///< in `order`
};

/// A leaf predicate, evaluated by a scan of one entity's columns. Literals are resolved (no
/// relative timestamps left).
struct scan_pred {
  enum class kind : std::uint8_t {
    compare,        ///< attribute op values[0]
    in_list,        ///< attribute in values (negated: not in)
    between,        ///< values[0] <= attribute <= values[1]
    like,           ///< attribute like values[0].s (case_insensitive: ilike)
    is_null,        ///< attribute is null (negated: is not null)
    link_null,      ///< link `link` is unset (negated: set)
    compare_attrs,  ///< left op right, both possibly through to-one paths
  };
  kind k = kind::compare;
  std::uint32_t attribute = 0;
  std::uint32_t link = 0;
  cmp_op op = cmp_op::eq;
  std::vector<literal> values;
  bool negated = false;
  bool case_insensitive = false;
  attr_ref left, right;
  /// compare, in_list, between: the value tested is this bucket of the row's key, not an
  /// attribute (`attribute` is then unused).
  std::optional<bucket_ref> bucket;
};

/// One node of the DAG. Inputs always have smaller ids than the node.
struct plan_node {
  plan_op op = plan_op::all;
  entity_id entity = no_entity;
  std::vector<std::uint32_t> inputs;
  scan_pred pred;                ///< scan
  std::uint32_t link = 0;        ///< to_one: link of `entity`; rev_*: link of `source`
  entity_id source = no_entity;  ///< rev_*: the child entity
  aggregate_fn fn = aggregate_fn::count;
  std::uint32_t attribute = 0;   ///< rev_aggregate: attribute of `source`
  number_test test;              ///< rev_count, rev_aggregate: resolved literals
  std::int64_t within_us = -1;   ///< rev_sequence: the time bound; -1: none
  std::uint64_t top_n = 0;       ///< top
  std::vector<order_key> order;  ///< top
  int per_link = -1;             ///< top: link of `entity` whose target groups; -1: one group
  std::string key;               ///< canonical form: equal keys mean equal sets
  std::string label;             ///< one line for `explain`
  std::uint32_t uses = 0;        ///< consumers: other nodes plus segment roots
};

/// A plan for some segments of a file: the shared DAG and, per segment, its root node.
struct plan {
  std::vector<plan_node> nodes;
  struct root {
    std::uint32_t segment = 0;  ///< index into bound_file::segments
    std::uint32_t node = 0;
  };
  std::vector<root> roots;  ///< in the file's topological order
  /// Nodes that bound sub-expressions asked for, counting repeats: `requested - nodes.size()`
  /// sub-expressions were found to be shared and are computed once.
  std::size_t requested = 0;
};

}  // namespace b2bseg
