// Syntax tree of a segments file, as parsed and before any name is resolved against a schema.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "b2bseg/common/types.hpp"
#include "b2bseg/lang/bound.hpp"

namespace b2bseg {

/// A name as written (backticks removed) and where it starts.
struct ast_name {
  std::string text;
  source_pos pos;
};

/// A literal as written. Numbers keep both forms: `i` is exact for integers, `f` always set.
struct ast_literal {
  enum class kind : std::uint8_t { string, integer, floating, boolean, timestamp, now };
  kind k = kind::integer;
  std::string s;
  std::int64_t i = 0;
  double f = 0;
  bool b = false;
  timestamp_us t = 0;          ///< absolute timestamp
  std::int64_t offset_us = 0;  ///< for `now`: `now + offset_us`
  source_pos pos;
};

/// `op value` or `between value and hi`, after count() and aggregates.
struct ast_number_test {
  bool between = false;
  cmp_op op = cmp_op::eq;
  ast_literal value;
  ast_literal hi;
};

/// One expression node. Fields used per kind are listed with the kind.
struct ast_expr {
  enum class kind : std::uint8_t {
    constant,      ///< `true` / `false`: `constant`
    and_,          ///< `children`
    or_,           ///< `children`
    not_,          ///< `children[0]`
    compare,       ///< `path op value`
    compare_path,  ///< `path op path2`
    in_list,       ///< `path [not] in (values)`: `negated`
    between,       ///< `path between value and hi`
    like,          ///< `path like value` (a string): `case_insensitive` for ilike
    is_null,       ///< `path is [not] null`: `negated`
    bare,          ///< `path` alone (a bool attribute)
    within,        ///< `path within last|next D`: `within_next`, `duration_us`
    quantified,    ///< `path.any|none|all(children[0]?)`: `quant`
    count,         ///< `path[.where(filter)].count(children[0]?) test`
    aggregate,     ///< `path[.where(filter)].fn(fn_attr) test`
    in_segment,    ///< `[path.]in_segment("segment")`
    sequence,      ///< `path.sequence(fn_attr, children[0] then children[1] ... [within D])`:
                   ///< `has_within`, `duration_us`
    top,           ///< `top(N, by order..., [per per_link,] [where filter])`
  };

  kind k = kind::constant;
  source_pos pos;     ///< where the expression starts
  source_pos op_pos;  ///< the operator, keyword or function name
  bool constant = false;
  std::vector<ast_name> path;   ///< the subject: attribute, link or relation path
  std::vector<ast_name> path2;  ///< right side of compare_path
  cmp_op op = cmp_op::eq;
  ast_literal value;
  ast_literal hi;
  std::vector<ast_literal> values;
  bool negated = false;
  bool case_insensitive = false;
  bool within_next = false;
  std::int64_t duration_us = 0;
  quantifier quant = quantifier::any;
  aggregate_fn fn = aggregate_fn::count;
  ast_name fn_attr;
  ast_number_test test;
  ast_name segment;         ///< the segment named by in_segment (position of its string)
  bool has_within = false;  ///< sequence: `within D` given (in `duration_us`)
  /// top: N as written and where, the `by` keys (desc or not), the `per` link (empty: none).
  std::int64_t top_n = 0;
  source_pos top_n_pos;
  struct order_key {
    ast_name attr;
    bool desc = false;
  };
  std::vector<order_key> order;
  ast_name per;
  /// `bucket("SALT", N)` is the subject of compare, in_list or between instead of `path`.
  bool bucket = false;
  std::string bucket_salt;
  std::int64_t bucket_n = 0;
  source_pos bucket_n_pos;  ///< where N is written
  /// The bytes of the source this expression spans, [text_begin, text_end); both 0 for a node
  /// the parser made up (a segmentation's exclusions), which says what it is in `text`.
  std::size_t text_begin = 0, text_end = 0;
  std::string text;
  std::unique_ptr<ast_expr> filter;  ///< the `where(...)` condition, if any
  std::vector<std::unique_ptr<ast_expr>> children;
};

/// One `segment NAME on ENTITY where EXPR` definition. After a syntax error, `where` is null and
/// the parts read before it are kept (an empty text means not read), so that the name still
/// counts as defined.
struct ast_definition {
  source_pos pos;  ///< the `segment` keyword
  ast_name name;
  ast_name entity;
  std::unique_ptr<ast_expr> where;
  bool ok = false;  ///< parsed without a syntax error
};

/// A whole segments file, definitions in file order.
struct ast_file {
  std::vector<ast_definition> definitions;
};

}  // namespace b2bseg
