// Computed fields of activation (SPEC 6): field expressions evaluated for every member at once,
// filters as bitsets through the planner and executor, values written as CSV or NDJSON text.
#pragma once

#include <charconv>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>
#include <vector>

#include "b2bseg/common/exact.hpp"
#include "b2bseg/common/parse.hpp"
#include "b2bseg/detail/json.hpp"
#include "b2bseg/exec/bitset.hpp"
#include "b2bseg/exec/executor.hpp"
#include "b2bseg/exec/graph_rows.hpp"
#include "b2bseg/lang/bound.hpp"
#include "b2bseg/output/writer.hpp"
#include "b2bseg/plan/planner.hpp"
#include "b2bseg/storage/graph.hpp"

namespace b2bseg {

/// The values of one field for a list of members, in member order. Attribute fields keep the
/// row each member reaches (values are read from the column when written); counts and
/// aggregates keep the computed number.
struct field_column {
  const bound_field* field = nullptr;
  std::vector<row_id> rows;          ///< attribute: the row of attr.entity reached, or no_row
  std::vector<detail::int128> ints;  ///< count, and int / timestamp aggregates
  std::vector<double> floats;        ///< float aggregates, avg of ints
  std::vector<std::uint8_t> null;    ///< count / aggregate: 1 where null

  value_type type() const noexcept { return field->type; }
};

/// Evaluates field expressions (all over one entity) for lists of members. The constructor runs
/// the filters of counts and aggregates once over their whole entity, as one shared plan (`as_of`
/// resolves `now`; `threads` as for evaluate); `run` then scans each member's related rows once
/// per field, in parallel. Sums of ints and timestamps are exact (128 bits); avg is the exact sum
/// divided by the count, rounded once (a timestamp average is floored to the microsecond; float
/// sums accumulate in long double). The fields and the graph must outlive the evaluator.
class field_evaluator {
 public:
  /// Cost: one evaluation of the filters' plan.
  field_evaluator(const graph& g, std::vector<const bound_field*> fields, timestamp_us as_of,
                  unsigned threads = 0)
      : g_(g), fields_(std::move(fields)), filter_of_(fields_.size(), ~0u) {
    bound_file holder;
    for (std::size_t i = 0; i < fields_.size(); ++i) {
      if (!fields_[i]->filter) continue;
      filter_of_[i] = static_cast<std::uint32_t>(holder.segments.size());
      bound_segment s;
      s.name = "field " + std::to_string(i);
      s.entity = fields_[i]->rel.source;
      holder.segments.push_back(std::move(s));
    }
    passing_.resize(holder.segments.size());
    if (holder.segments.empty()) return;
    detail::planner pl(g.schema(), holder, as_of);
    std::vector<plan::root> roots;
    for (std::size_t i = 0; i < fields_.size(); ++i)
      if (filter_of_[i] != ~0u) roots.push_back({filter_of_[i], pl.lower(*fields_[i]->filter)});
    executor ex(g, threads);
    evaluation ev = ex.run(pl.take(std::move(roots)), holder);
    for (std::size_t k = 0; k < ev.segments.size(); ++k)
      passing_[k] = to_bitset(ev.segments[k].members, g.rows(holder.segments[k].entity));
  }

  /// The value of every field for each of `members` (dense ids; no_row gives nulls), one column
  /// per field. Cost: O(fields x (members + related rows of the members)).
  std::vector<field_column> run(const std::vector<row_id>& members) const;

 private:
  const graph& g_;
  std::vector<const bound_field*> fields_;
  std::vector<std::uint32_t> filter_of_;  // per field: its filter's index in passing_, or ~0u
  std::vector<bitset> passing_;           // per filter: the related rows that pass
};

inline std::vector<field_column> field_evaluator::run(const std::vector<row_id>& members) const {
  const graph& g = g_;
  const auto& fields = fields_;
  const auto& filter_of = filter_of_;
  const auto& passing = passing_;
  // 2. Per field, per member.
  std::vector<field_column> out(fields.size());
  const std::size_t n = members.size();
  for (std::size_t i = 0; i < fields.size(); ++i) {
    const bound_field& f = *fields[i];
    field_column& col = out[i];
    col.field = &f;
    if (f.k == bound_field::kind::attribute) {
      col.rows.resize(n);
      detail::parallel_for(std::size_t{0}, n, [&](std::size_t k) {
        col.rows[k] = detail::follow_hops(g, f.attr.path, members[k]);
      });
      continue;
    }
    const link_index& li = g.link(f.rel.source, f.rel.link);
    const bitset* pass = filter_of[i] == ~0u ? nullptr : &passing[filter_of[i]];
    const bool count_only = f.k == bound_field::kind::count;
    const column* c = count_only ? nullptr : &g.attribute(f.rel.source, f.attr.attribute);
    const bool is_float = c && c->type() == value_type::floating;
    const bool float_out = f.type == value_type::floating;
    col.null.assign(n, 0);
    if (float_out)
      col.floats.assign(n, 0);
    else
      col.ints.assign(n, 0);
    detail::parallel_for(std::size_t{0}, n, [&](std::size_t k) {
      const row_id owner = detail::follow_hops(g, f.rel.path, members[k]);
      if (owner == no_row) {
        col.null[k] = 1;  // through an unset link: null, count() too
        return;
      }
      std::uint64_t count = 0;
      detail::int128 isum = 0;
      long double fsum = 0;
      std::int64_t imin = 0, imax = 0;
      double fmin = 0, fmax = 0;
      li.for_each_child(owner, [&](row_id ch) {
        if (pass && !pass->test(ch)) return;
        if (count_only) {
          ++count;
          return;
        }
        if (c->is_null(ch)) return;
        if (is_float) {
          const double x = c->floats()[ch];
          fsum += x;
          if (count == 0 || x < fmin) fmin = x;
          if (count == 0 || x > fmax) fmax = x;
        } else {
          const std::int64_t x = c->ints()[ch];
          isum += x;
          if (count == 0 || x < imin) imin = x;
          if (count == 0 || x > imax) imax = x;
        }
        ++count;
      });
      switch (f.fn) {
        case aggregate_fn::count:
          col.ints[k] = static_cast<detail::int128>(count);
          return;
        case aggregate_fn::sum:
          if (is_float)
            col.floats[k] = static_cast<double>(fsum);
          else
            col.ints[k] = isum;
          return;
        case aggregate_fn::avg:
          if (count == 0) {
            col.null[k] = 1;
          } else if (is_float) {
            col.floats[k] = static_cast<double>(fsum / static_cast<long double>(count));
          } else if (float_out) {
            col.floats[k] = detail::nearest_double(isum, count);
          } else {  // timestamp: floored to the microsecond
            detail::int128 q = isum / static_cast<detail::int128>(count);
            if (isum % static_cast<detail::int128>(count) < 0) --q;
            col.ints[k] = q;
          }
          return;
        case aggregate_fn::min:
        case aggregate_fn::max:
          if (count == 0) {
            col.null[k] = 1;
            return;
          }
          if (is_float)
            col.floats[k] = f.fn == aggregate_fn::min ? fmin : fmax;
          else
            col.ints[k] = f.fn == aggregate_fn::min ? imin : imax;
          return;
      }
    });
  }
  return out;
}

/// One-shot form of field_evaluator: the filters' plan and the members' values at once.
inline std::vector<field_column> evaluate_fields(const graph& g,
                                                 const std::vector<const bound_field*>& fields,
                                                 const std::vector<row_id>& members,
                                                 timestamp_us as_of, unsigned threads = 0) {
  return field_evaluator(g, fields, as_of, threads).run(members);
}

// --- writing values ----------------------------------------------------------------------------

/// Whether member `k`'s value of `col` is null.
inline bool field_is_null(const graph& g, const field_column& col, std::size_t k) {
  if (col.field->k != bound_field::kind::attribute) return col.null[k] != 0;
  const row_id r = col.rows[k];
  if (r == no_row) return true;
  const column& c = g.attribute(col.field->attr.entity, col.field->attr.attribute);
  return c.is_null(r);
}

/// The text of member `k`'s value as a string field would hold it before quoting: the value of
/// a string attribute, a `|`-joined list, the CSV spelling of other types; empty when null.
inline void append_field_text(std::string& out, const graph& g, const field_column& col,
                              std::size_t k) {
  if (field_is_null(g, col, k)) return;
  if (col.field->k != bound_field::kind::attribute) {
    if (col.type() == value_type::floating)
      detail::append_double(out, col.floats[k]);
    else if (col.type() == value_type::timestamp)
      out += format_timestamp(static_cast<timestamp_us>(col.ints[k]));
    else
      detail::append_int128(out, col.ints[k]);
    return;
  }
  const row_id r = col.rows[k];
  const column& c = g.attribute(col.field->attr.entity, col.field->attr.attribute);
  switch (c.type()) {
    case value_type::string:
      out += c.string_at(r);
      return;
    case value_type::string_list: {
      bool first = true;
      for (std::uint32_t code : c.list_at(r)) {
        if (!first) out += '|';
        first = false;
        out += c.dictionary()[code];
      }
      return;
    }
    case value_type::integer:
      detail::append_int128(out, c.ints()[r]);
      return;
    case value_type::floating:
      detail::append_double(out, c.floats()[r]);
      return;
    case value_type::boolean:
      out += c.bool_at(r) ? "true" : "false";
      return;
    case value_type::timestamp:
      out += format_timestamp(c.ints()[r]);
      return;
  }
}

/// Member `k`'s value as one CSV field (RFC 4180 quoting; null is empty).
inline void append_csv_value(std::string& out, const graph& g, const field_column& col,
                             std::size_t k, std::string& scratch) {
  if (col.field->k == bound_field::kind::attribute &&
      (col.type() == value_type::string || col.type() == value_type::integer)) {
    // The common cases without a copy through `scratch`.
    const row_id r = col.rows[k];
    if (r == no_row) return;
    const column& c = g.attribute(col.field->attr.entity, col.field->attr.attribute);
    if (c.is_null(r)) return;
    if (col.type() == value_type::string) {
      append_csv_field(out, c.string_at(r));
    } else {
      char buf[24];
      out.append(buf, std::to_chars(buf, buf + sizeof buf, c.ints()[r]).ptr);
    }
    return;
  }
  scratch.clear();
  append_field_text(scratch, g, col, k);
  append_csv_field(out, scratch);
}

/// Member `k`'s value as JSON: numbers and booleans bare, timestamps as ISO strings, string[] as
/// arrays, null as `null`.
/// Appends a non-null value of type `t` given as text (append_field_text's form: a list's
/// elements joined by '|') as JSON: strings and timestamps quoted, a list as an array of
/// strings, numbers and booleans as they are. The one rule both append_json_value and values
/// computed elsewhere (field_values) write by.
inline void append_json_text(std::string& out, value_type t, std::string_view text) {
  switch (t) {
    case value_type::string_list:  // elements are never empty and never hold '|'
      out += '[';
      for (std::size_t at = 0; at <= text.size();) {
        const std::size_t bar = std::min(text.find('|', at), text.size());
        if (at) out += ',';
        detail::append_json_string(out, text.substr(at, bar - at));
        at = bar + 1;
      }
      out += ']';
      return;
    case value_type::string:
    case value_type::timestamp:
      detail::append_json_string(out, text);
      return;
    default:
      out += text;
  }
}

inline void append_json_value(std::string& out, const graph& g, const field_column& col,
                              std::size_t k, std::string& scratch) {
  if (field_is_null(g, col, k)) {
    out += "null";
    return;
  }
  const value_type t = col.type();
  if (col.field->k == bound_field::kind::attribute && t == value_type::string_list) {
    const column& c = g.attribute(col.field->attr.entity, col.field->attr.attribute);
    out += '[';
    bool first = true;
    for (std::uint32_t code : c.list_at(col.rows[k])) {
      if (!first) out += ',';
      first = false;
      detail::append_json_string(out, c.dictionary()[code]);
    }
    out += ']';
    return;
  }
  scratch.clear();
  append_field_text(scratch, g, col, k);
  append_json_text(out, t, scratch);
}

}  // namespace b2bseg
