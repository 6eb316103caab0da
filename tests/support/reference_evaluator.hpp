// A naive reference evaluator of bound segments: one row at a time, straight from SPEC 3, no
// bitmaps and no plan. Slow and obviously correct, so that the engine can be checked against it.
#pragma once

#include <gmpxx.h>
#include <xxhash.h>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "b2bseg/activate/fields.hpp"
#include "b2bseg/lang/bound.hpp"
#include "b2bseg/storage/graph.hpp"

namespace b2bseg::test_support {

/// The UTF-8 characters of `s` (a lead byte says how long its character is; a stray byte is one
/// character; a truncated character ends at the end of `s`).
inline std::vector<std::string_view> utf8_characters(std::string_view s) {
  std::vector<std::string_view> out;
  std::size_t i = 0;
  while (i < s.size()) {
    const auto c = static_cast<unsigned char>(s[i]);
    std::size_t n = c < 0xC0 ? 1 : c < 0xE0 ? 2 : c < 0xF0 ? 3 : 4;
    if (i + n > s.size()) n = s.size() - i;
    out.push_back(s.substr(i, n));
    i += n;
  }
  return out;
}

/// SQL LIKE by dynamic programming over characters: `%` any run of characters, `_` exactly one
/// UTF-8 character, `\` makes the next character literal (a `\` at the very end is a literal
/// `\`); `ci` compares ASCII letters without case. O(|pattern| x |text|).
inline bool reference_like(std::string_view pattern, std::string_view text, bool ci) {
  struct tok {
    enum { any_run, one_char, literal } k;
    std::string_view ch;
  };
  std::vector<tok> toks;
  const auto pc = utf8_characters(pattern);
  for (std::size_t i = 0; i < pc.size(); ++i) {
    if (pc[i] == "%")
      toks.push_back({tok::any_run, {}});
    else if (pc[i] == "_")
      toks.push_back({tok::one_char, {}});
    else if (pc[i] == "\\" && i + 1 < pc.size())
      toks.push_back({tok::literal, pc[++i]});
    else
      toks.push_back({tok::literal, pc[i]});
  }
  auto lower = [](char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c; };
  auto same = [&](std::string_view a, std::string_view b) {
    if (a.size() != b.size()) return false;
    for (std::size_t i = 0; i < a.size(); ++i)
      if (ci ? lower(a[i]) != lower(b[i]) : a[i] != b[i]) return false;
    return true;
  };
  const auto tc = utf8_characters(text);
  const std::size_t n = tc.size();
  // can[j]: the tokens seen so far match exactly the first j characters of the text.
  std::vector<char> can(n + 1, 0), next(n + 1, 0);
  can[0] = 1;
  for (const tok& t : toks) {
    for (std::size_t j = 0; j <= n; ++j) {
      switch (t.k) {
        case tok::any_run:
          next[j] = can[j] || (j > 0 && next[j - 1]);
          break;
        case tok::one_char:
          next[j] = j > 0 && can[j - 1];
          break;
        case tok::literal:
          next[j] = j > 0 && can[j - 1] && same(t.ch, tc[j - 1]);
          break;
      }
    }
    can.swap(next);
  }
  return can[n] != 0;
}

/// Evaluates a compiled segments file over a graph, row at a time. Semantics (SPEC 3.2):
/// - every comparison, in, between, like and within is false on null, `!=` and `not in` too;
///   `not` is plain complement;
/// - anything reached through an unset to-one link is false, whatever the predicate;
/// - on string[] a comparison holds when any element satisfies it; an empty list is null;
/// - relations (to-one hops, then a reverse) range over the rows whose link points at the owner;
///   count() and sum() of nothing are 0, avg/min/max of nothing are null (every test false);
/// - numbers: int with int exactly, int with float as long double; timestamps as int64
///   microseconds, relative literals being as_of + offset; strings byte-wise (memcmp);
///   false < true; int and timestamp sums and averages exact (GMP rationals), other aggregates
///   compared as long double.
///
/// Children of every link are computed once from the parents (not from the graph's adjacency),
/// so that the reference does not share that structure with the engine. Not thread-safe.
class reference_evaluator {
 public:
  /// Indexes the children of every link of `g`. O(total rows).
  explicit reference_evaluator(const graph& g) : g_(g) {
    const schema& s = g.schema();
    children_.resize(s.entities.size());
    for (entity_id e = 0; e < s.entities.size(); ++e) {
      children_[e].resize(s.entities[e].links.size());
      for (std::uint32_t l = 0; l < s.entities[e].links.size(); ++l) {
        auto& kids = children_[e][l];
        kids.resize(g.rows(s.entities[e].links[l].target));
        for (row_id r = 0; r < g.rows(e); ++r) {
          const row_id p = g.link(e, l).parent(r);
          if (p != no_row) kids.at(p).push_back(r);  // ascending, as r ascends
        }
      }
    }
  }

  /// Sets the file and the as-of instant that `holds` uses, forgetting memoized segments.
  void bind(const bound_file& f, timestamp_us as_of) {
    file_ = &f;
    as_of_ = as_of;
    memo_.assign(f.segments.size(), {});
  }

  /// Whether expression `e` holds for row `row` of `e.context`. `bind` must have been called.
  bool holds(const bound_expr& e, row_id row) {
    using K = bound_expr::kind;
    switch (e.k) {
      case K::constant:
        return e.constant;
      case K::and_:
        for (const auto& c : e.children)
          if (!holds(*c, row)) return false;
        return true;
      case K::or_:
        for (const auto& c : e.children)
          if (holds(*c, row)) return true;
        return false;
      case K::not_:
        return !holds(*e.children.at(0), row);
      case K::compare:
        return any_subject(e, row, [&](const value& v) { return test(compare(v, e.value), e.op); });
      case K::in_list:
        return any_subject(e, row, [&](const value& v) {
          bool found = false;
          for (const literal& l : e.values) found = found || compare(v, l) == 0;
          return found != e.negated;
        });
      case K::between:
        return any_subject(e, row, [&](const value& v) {
          return compare(v, e.value) >= 0 && compare(v, e.hi) <= 0;
        });
      case K::like:
        return any_value(e.attr, row, [&](const value& v) {
          return reference_like(e.value.s, v.s, e.case_insensitive);
        });
      case K::is_null: {
        const row_id r = follow(e.attr.path, row);
        if (r == no_row) return false;
        return values_of(e.attr.entity, e.attr.attribute, r).empty() != e.negated;
      }
      case K::link_is_null: {
        const auto& hops = e.attr.path;
        row_id r = row;
        for (std::size_t i = 0; i + 1 < hops.size(); ++i) {
          r = g_.link(hops[i].from, hops[i].link).parent(r);
          if (r == no_row) return false;
        }
        const link_hop& last = hops.at(hops.size() - 1);
        const bool unset = g_.link(last.from, last.link).parent(r) == no_row;
        return unset != e.negated;
      }
      case K::compare_attrs: {
        const row_id a = follow(e.attr.path, row), b = follow(e.attr2.path, row);
        if (a == no_row || b == no_row) return false;
        for (const value& x : values_of(e.attr.entity, e.attr.attribute, a))
          for (const value& y : values_of(e.attr2.entity, e.attr2.attribute, b))
            if (test(compare(x, y), e.op)) return true;
        return false;
      }
      case K::quantified: {
        const row_id owner = follow(e.rel.path, row);
        if (owner == no_row) return false;
        const bound_expr* p = e.children.empty() ? nullptr : e.children[0].get();
        std::size_t matching = 0, all = 0;
        for (row_id c : related(e.rel, owner)) {
          ++all;
          if (!p || holds(*p, c)) ++matching;
        }
        switch (e.quant) {
          case quantifier::any:
            return matching > 0;
          case quantifier::none:
            return matching == 0;
          case quantifier::all:
            return matching == all;
        }
        return false;
      }
      case K::count: {
        const row_id owner = follow(e.rel.path, row);
        if (owner == no_row) return false;
        const bound_expr* p = e.children.empty() ? nullptr : e.children[0].get();
        std::int64_t n = 0;
        for (row_id c : related(e.rel, owner))
          if (!p || holds(*p, c)) ++n;
        return passes(e.test, static_cast<long double>(n));
      }
      case K::aggregate:
        return aggregate(e, row);
      case K::sequence: {
        const row_id owner = follow(e.rel.path, row);
        if (owner == no_row) return false;
        // Every related row with a time, with the steps it satisfies; then a plain search.
        std::vector<std::pair<std::int64_t, std::vector<bool>>> rows;
        for (row_id c : related(e.rel, owner)) {
          const std::vector<value> t = values_of(e.rel.source, e.attr.attribute, c);
          if (t.empty()) continue;
          std::vector<bool> steps;
          for (const auto& step : e.children) steps.push_back(holds(*step, c));
          rows.emplace_back(t[0].i, std::move(steps));
        }
        return sequence_from(e, rows, 0, 0, 0);
      }
      case K::top:
        return in_top(e, row);
      case K::in_segment: {
        const row_id r = follow(e.attr.path, row);
        if (r == no_row) return false;
        return in_segment(e.segment, r);
      }
    }
    throw std::logic_error("reference_evaluator: unknown expression kind");
  }

  /// Whether steps `step`.. of sequence `e` can follow, each at a time after `last`, the whole
  /// within the sequence's bound of `first` (the time of step 0).
  bool sequence_from(const bound_expr& e,
                     const std::vector<std::pair<std::int64_t, std::vector<bool>>>& rows,
                     std::size_t step, std::int64_t last, std::int64_t first) const {
    for (const auto& [t, steps] : rows) {
      if (!steps[step] || (step > 0 && t <= last)) continue;
      const std::int64_t start = step == 0 ? t : first;
      if (step + 1 == e.children.size()) {
        if (!e.within_us || static_cast<__int128>(t) - start <= *e.within_us) return true;
        continue;
      }
      if (sequence_from(e, rows, step + 1, t, start)) return true;
    }
    return false;
  }

  /// `top`: `row` passes the condition and fewer than N rows of its group come before it.
  bool in_top(const bound_expr& e, row_id row) {
    const bound_expr* p = e.children.empty() ? nullptr : e.children[0].get();
    if (p && !holds(*p, row)) return false;
    const entity_id ent = e.context;
    row_id group = 0;
    if (e.per_link >= 0) {
      group = g_.link(ent, static_cast<std::uint32_t>(e.per_link)).parent(row);
      if (group == no_row) return false;
    }
    std::uint64_t before = 0;
    for (row_id x = 0; x < g_.rows(ent); ++x) {
      if (x == row || (p && !holds(*p, x))) continue;
      if (e.per_link >= 0 &&
          g_.link(ent, static_cast<std::uint32_t>(e.per_link)).parent(x) != group)
        continue;
      if (ranks_before(e, x, row)) ++before;
    }
    return before < e.top_n;
  }

  /// Whether `a` ranks before `b` in `top` `e`: the keys in order, nulls last, then key bytes.
  bool ranks_before(const bound_expr& e, row_id a, row_id b) const {
    for (const order_key& k : e.order) {
      const std::vector<value> x = values_of(e.context, k.attribute, a);
      const std::vector<value> y = values_of(e.context, k.attribute, b);
      if (x.empty() != y.empty()) return y.empty();
      if (x.empty()) continue;
      const int c = compare(x[0], y[0]);
      if (c != 0) return k.desc ? c > 0 : c < 0;
    }
    return bytes_compare(g_.key(e.context, a), g_.key(e.context, b)) < 0;
  }

  /// Whether row `row` (of the segment's entity) belongs to segment `seg`. Memoized.
  bool in_segment(std::uint32_t seg, row_id row) {
    const bound_segment& s = file_->segments.at(seg);
    auto& m = memo_.at(seg);
    if (m.empty()) m.assign(g_.rows(s.entity), -1);
    if (m.at(row) < 0) m[row] = holds(*s.where, row) ? 1 : 0;
    return m[row] == 1;
  }

  /// The rows of segment `seg` of `f`, ascending. Binds `f` and `as_of` unless they are bound
  /// already (call `bind` for a new file that may live where an old one did).
  std::vector<row_id> member_rows(const bound_file& f, std::uint32_t seg, timestamp_us as_of) {
    if (file_ != &f || as_of_ != as_of) bind(f, as_of);
    std::vector<row_id> out;
    const entity_id e = f.segments.at(seg).entity;
    for (row_id r = 0; r < g_.rows(e); ++r)
      if (in_segment(seg, r)) out.push_back(r);
    return out;
  }

  /// The keys of the members of segment `seg` of `f`, in dense row order.
  std::vector<std::string> members(const bound_file& f, std::uint32_t seg, timestamp_us as_of) {
    std::vector<std::string> out;
    const entity_id e = f.segments.at(seg).entity;
    for (row_id r : member_rows(f, seg, as_of)) out.emplace_back(g_.key(e, r));
    return out;
  }

  /// The text of field `f` for row `row` of its context entity, as activation writes it into a
  /// CSV cell (SPEC 6), computed row at a time: empty when null (also through an unset link, a
  /// count too); sums of ints exact (GMP); avg the exact ratio, rounded once to the nearest
  /// double (ties to even), floored to the microsecond for timestamps; float sums accumulated in
  /// long double in ascending child order. `bind` must have been called (for `now`).
  std::string field_text(const bound_field& f, row_id row) {
    std::string out;
    if (f.k == bound_field::kind::attribute) {
      const row_id r = follow(f.attr.path, row);
      if (r == no_row) return out;
      const std::vector<value> vs = values_of(f.attr.entity, f.attr.attribute, r);
      for (std::size_t i = 0; i < vs.size(); ++i) {
        if (i) out += '|';
        append(out, vs[i]);
      }
      return out;
    }
    const row_id owner = follow(f.rel.path, row);
    if (owner == no_row) return out;
    std::int64_t n = 0, imin = 0, imax = 0;
    mpz_class isum = 0;
    long double fsum = 0;
    double fmin = 0, fmax = 0;
    const column* c =
        f.k == bound_field::kind::count ? nullptr : &g_.attribute(f.rel.source, f.attr.attribute);
    for (row_id ch : related(f.rel, owner)) {
      if (f.filter && !holds(*f.filter, ch)) continue;
      if (c && c->is_null(ch)) continue;
      if (c && c->type() == value_type::floating) {
        const double x = c->floats()[ch];
        fsum += x;
        if (n == 0 || x < fmin) fmin = x;
        if (n == 0 || x > fmax) fmax = x;
      } else if (c) {
        const std::int64_t x = c->ints()[ch];
        isum += static_cast<long>(x);
        if (n == 0 || x < imin) imin = x;
        if (n == 0 || x > imax) imax = x;
      }
      ++n;
    }
    const bool fl = c && c->type() == value_type::floating;
    const bool ts = c && c->type() == value_type::timestamp;
    auto put_int = [&](std::int64_t x) {
      if (ts)
        out += format_timestamp(x);
      else
        out += std::to_string(x);
    };
    switch (f.fn) {
      case aggregate_fn::count:
        return std::to_string(n);
      case aggregate_fn::sum:
        if (fl) {
          detail::append_double(out, static_cast<double>(fsum));
          return out;
        }
        return isum.get_str();
      case aggregate_fn::avg: {
        if (n == 0) return out;
        if (fl) {
          detail::append_double(out, static_cast<double>(fsum / n));
          return out;
        }
        if (ts) {
          mpz_class q;
          mpz_fdiv_q(q.get_mpz_t(), isum.get_mpz_t(), mpz_class(static_cast<long>(n)).get_mpz_t());
          put_int(q.get_si());
          return out;
        }
        const mpq_class exact(isum, mpz_class(static_cast<long>(n)));
        detail::append_double(out, nearest(exact));
        return out;
      }
      case aggregate_fn::min:
      case aggregate_fn::max:
        if (n == 0) return out;
        if (fl)
          detail::append_double(out, f.fn == aggregate_fn::min ? fmin : fmax);
        else
          put_int(f.fn == aggregate_fn::min ? imin : imax);
        return out;
    }
    return out;
  }

 private:
  /// The double nearest to `q`, ties to even, by exact comparison of the candidates around the
  /// truncated conversion.
  static double nearest(const mpq_class& q) {
    const double t = q.get_d();  // truncated toward zero
    double best = t;
    mpq_class best_diff = abs(q - mpq_class(t));
    for (double cand : {std::nextafter(t, HUGE_VAL), std::nextafter(t, -HUGE_VAL)}) {
      const mpq_class diff = abs(q - mpq_class(cand));
      std::int64_t bits = 0;
      std::memcpy(&bits, &cand, sizeof cand);
      if (diff < best_diff || (diff == best_diff && (bits & 1) == 0)) {
        best = cand;
        best_diff = diff;
      }
    }
    return best;
  }

  /// One value of a cell (a string[] cell has one per element).
  struct value {
    value_type type = value_type::string;
    std::int64_t i = 0;  // int, timestamp
    double f = 0;
    bool b = false;
    std::string_view s;
  };

  static void append(std::string& out, const value& v) {
    switch (v.type) {
      case value_type::string:
      case value_type::string_list:
        out += v.s;
        return;
      case value_type::integer:
        out += std::to_string(v.i);
        return;
      case value_type::floating:
        detail::append_double(out, v.f);
        return;
      case value_type::boolean:
        out += v.b ? "true" : "false";
        return;
      case value_type::timestamp:
        out += format_timestamp(v.i);
        return;
    }
  }

  row_id follow(const std::vector<link_hop>& path, row_id r) const {
    for (const link_hop& h : path) {
      r = g_.link(h.from, h.link).parent(r);
      if (r == no_row) return no_row;
    }
    return r;
  }

  const std::vector<row_id>& related(const relation_ref& rel, row_id owner) const {
    return children_.at(rel.source).at(rel.link).at(owner);
  }

  /// The values of attribute `a` of row `r` of entity `e`: none when null (an empty list is
  /// null), one for a scalar, one per element for a string[].
  std::vector<value> values_of(entity_id e, std::uint32_t a, row_id r) const {
    const column& c = g_.attribute(e, a);
    std::vector<value> out;
    if (c.is_null(r)) return out;
    value v;
    v.type = c.type();
    switch (c.type()) {
      case value_type::integer:
      case value_type::timestamp:
        v.i = c.ints()[r];
        break;
      case value_type::floating:
        v.f = c.floats()[r];
        break;
      case value_type::boolean:
        v.b = c.bool_at(r);
        break;
      case value_type::string:
        v.s = c.string_at(r);
        break;
      case value_type::string_list:
        v.type = value_type::string;
        for (std::uint32_t code : c.list_at(r)) {
          v.s = c.dictionary()[code];
          out.push_back(v);
        }
        return out;
    }
    out.push_back(v);
    return out;
  }

  template <class F>
  bool any_subject(const bound_expr& e, row_id row, F&& f) const {
    if (!e.bucket) return any_value(e.attr, row, f);
    // SPEC 3.5 spelled out: XXH3-64 with seed 0 of the salt, one 0 byte and the key, modulo N.
    std::string bytes = e.bucket->salt;
    bytes.push_back('\0');
    bytes += g_.key(e.context, row);
    value v;
    v.type = value_type::integer;
    v.i = static_cast<std::int64_t>(XXH3_64bits_withSeed(bytes.data(), bytes.size(), 0) %
                                    e.bucket->n);
    return f(v);
  }

  template <class F>
  bool any_value(const attr_ref& a, row_id row, F&& f) const {
    const row_id r = follow(a.path, row);
    if (r == no_row) return false;
    for (const value& v : values_of(a.entity, a.attribute, r))
      if (f(v)) return true;
    return false;
  }

  /// The instant of a timestamp literal: as_of + offset for a relative one, held at the ends of
  /// the int64 range rather than wrapping (computed in 128 bits, then clamped).
  timestamp_us time_of(const literal& l) const {
    if (!l.relative) return l.t;
    const __int128 t = static_cast<__int128>(as_of_) + l.offset_us;
    if (t > std::numeric_limits<std::int64_t>::max())
      return std::numeric_limits<std::int64_t>::max();
    if (t < std::numeric_limits<std::int64_t>::min())
      return std::numeric_limits<std::int64_t>::min();
    return static_cast<timestamp_us>(t);
  }

  /// A numeric literal as an exact rational (GMP): no rounding anywhere.
  mpq_class exact(const literal& l) const {
    switch (l.type) {
      case value_type::integer:
        return mpq_class(mpz_class(static_cast<long>(l.i)));
      case value_type::floating:
        return l.integral ? mpq_class(mpz_class(static_cast<long>(l.i))) : mpq_class(l.f);
      case value_type::timestamp:
        return mpq_class(mpz_class(static_cast<long>(time_of(l))));
      default:
        throw std::logic_error("reference_evaluator: literal is not a number");
    }
  }

  bool passes_exact(const number_test& t, const mpq_class& x) const {
    if (t.between) return exact(t.value) <= x && x <= exact(t.hi);
    return test(cmp(x, exact(t.value)), t.op);
  }

  /// A literal as a number: an int by `i`, a float by `f` (by `i` when it was written as an
  /// integer: `integral`), a timestamp by its instant.
  long double number(const literal& l) const {
    switch (l.type) {
      case value_type::integer:
        return static_cast<long double>(l.i);
      case value_type::floating:
        return l.integral ? static_cast<long double>(l.i) : static_cast<long double>(l.f);
      case value_type::timestamp:
        return static_cast<long double>(time_of(l));
      default:
        throw std::logic_error("reference_evaluator: literal is not a number");
    }
  }

  template <class T>
  static int sign(T a, T b) {
    return a < b ? -1 : b < a ? 1 : 0;
  }

  static int bytes_compare(std::string_view a, std::string_view b) {
    const std::size_t n = a.size() < b.size() ? a.size() : b.size();
    const int c = n ? std::memcmp(a.data(), b.data(), n) : 0;
    if (c != 0) return c < 0 ? -1 : 1;
    return sign(a.size(), b.size());
  }

  /// The sign of (v - l).
  int compare(const value& v, const literal& l) const {
    switch (v.type) {
      case value_type::string:
      case value_type::string_list:
        return bytes_compare(v.s, l.s);
      case value_type::boolean:
        return sign(int(v.b), int(l.b));
      case value_type::integer:
        if (l.type == value_type::integer || l.integral) return sign(v.i, l.i);  // exact
        return sign(static_cast<long double>(v.i), number(l));
      case value_type::floating:
        return sign(static_cast<long double>(v.f), number(l));
      case value_type::timestamp:
        return sign(v.i, time_of(l));
    }
    throw std::logic_error("reference_evaluator: bad value type");
  }

  /// The sign of (a - b) for two attribute values.
  static int compare(const value& a, const value& b) {
    if (a.type == value_type::string || a.type == value_type::string_list)
      return bytes_compare(a.s, b.s);
    if (a.type == value_type::boolean) return sign(int(a.b), int(b.b));
    if (a.type == b.type && a.type != value_type::floating) return sign(a.i, b.i);  // exact
    auto num = [](const value& v) {
      return v.type == value_type::floating ? static_cast<long double>(v.f)
                                            : static_cast<long double>(v.i);
    };
    return sign(num(a), num(b));
  }

  static bool test(int c, cmp_op op) {
    switch (op) {
      case cmp_op::eq:
        return c == 0;
      case cmp_op::ne:
        return c != 0;
      case cmp_op::lt:
        return c < 0;
      case cmp_op::le:
        return c <= 0;
      case cmp_op::gt:
        return c > 0;
      case cmp_op::ge:
        return c >= 0;
    }
    return false;
  }

  bool passes(const number_test& t, long double x) const {
    if (t.between) return number(t.value) <= x && x <= number(t.hi);
    return test(sign(x, number(t.value)), t.op);
  }

  bool aggregate(const bound_expr& e, row_id row) {
    const row_id owner = follow(e.rel.path, row);
    if (owner == no_row) return false;
    const bound_expr* p = e.children.empty() ? nullptr : e.children[0].get();
    const column& c = g_.attribute(e.rel.source, e.attr.attribute);
    const bool is_float = c.type() == value_type::floating;
    std::int64_t n = 0, imin = 0, imax = 0;
    mpz_class isum = 0;  // exact: int and timestamp sums never wrap
    double fsum = 0, fmin = 0, fmax = 0;
    for (row_id ch : related(e.rel, owner)) {
      if (p && !holds(*p, ch)) continue;
      if (c.is_null(ch)) continue;
      if (is_float) {
        const double x = c.floats()[ch];
        fsum += x;
        if (n == 0 || x < fmin) fmin = x;
        if (n == 0 || x > fmax) fmax = x;
      } else {
        const std::int64_t x = c.ints()[ch];
        isum += static_cast<long>(x);
        if (n == 0 || x < imin) imin = x;
        if (n == 0 || x > imax) imax = x;
      }
      ++n;
    }
    switch (e.fn) {
      case aggregate_fn::count:
        return passes(e.test, static_cast<long double>(n));
      case aggregate_fn::sum:
        if (is_float) return passes(e.test, static_cast<long double>(fsum));
        return passes_exact(e.test, mpq_class(isum));
      case aggregate_fn::avg:
        if (n == 0) return false;
        if (is_float) return passes(e.test, static_cast<long double>(fsum) / n);
        return passes_exact(e.test, mpq_class(isum, mpz_class(static_cast<long>(n))));
      case aggregate_fn::min:
        return n > 0 && passes(e.test, is_float ? static_cast<long double>(fmin)
                                                : static_cast<long double>(imin));
      case aggregate_fn::max:
        return n > 0 && passes(e.test, is_float ? static_cast<long double>(fmax)
                                                : static_cast<long double>(imax));
    }
    return false;
  }

  const graph& g_;
  std::vector<std::vector<std::vector<std::vector<row_id>>>> children_;  // [entity][link][parent]
  const bound_file* file_ = nullptr;
  timestamp_us as_of_ = 0;
  std::vector<std::vector<std::int8_t>> memo_;  // [segment][row]: -1 unknown, 0, 1
};

}  // namespace b2bseg::test_support
