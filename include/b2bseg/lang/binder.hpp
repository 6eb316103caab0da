// Binder of the segment language: names resolved against a schema, typed literals, segment order.
#pragma once

#include <algorithm>
#include <cstdint>
#include <limits>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "b2bseg/common/edit_distance.hpp"
#include "b2bseg/common/error.hpp"
#include "b2bseg/lang/ast.hpp"
#include "b2bseg/lang/bound.hpp"
#include "b2bseg/lang/lexer.hpp"
#include "b2bseg/storage/schema.hpp"

namespace b2bseg {

namespace detail::lang {

/// Binds a parsed file. Each error is appended to the diagnostics and binding goes on, so that
/// one pass reports every binding error of the file.
class binder {
 public:
  binder(const schema& s, const source_text& src, std::vector<diagnostic>& diags)
      : s_(s), src_(src), diags_(diags) {}

  /// Binds field expression `e` (from parser::field) over entity `ctx` into `out`. Any attribute
  /// type may be read; aggregates follow the rules of the segment language (numeric or
  /// timestamp attributes, no sum of timestamps). Segments cannot be referenced (no segment
  /// file is in scope). Returns false after reporting errors.
  bool bind_field(const ast_expr& e, entity_id ctx, bound_field& out) {
    static const std::vector<bound_segment> no_segments;
    segments_ = &no_segments;
    refs_.assign(1, {});
    current_ = 0;
    out.context = ctx;
    using ak = ast_expr::kind;
    if (e.k == ak::bare) {
      out.k = bound_field::kind::attribute;
      if (!resolve_attribute(e.path, ctx, out.attr)) return false;
      out.type = out.attr.type;
      return true;
    }
    auto n = make(bound_expr::kind::count, e.pos, ctx);
    if (!resolve_relation(e.path, ctx, n->rel)) return false;
    if (!bind_filter(e, *n)) return false;
    out.rel = n->rel;
    if (!n->children.empty()) out.filter = std::move(n->children[0]);
    if (e.k == ak::count) {
      out.k = bound_field::kind::count;
      out.fn = aggregate_fn::count;
      out.type = value_type::integer;
      return true;
    }
    out.k = bound_field::kind::aggregate;
    out.fn = e.fn;
    const std::optional<value_type> result = aggregate_attribute(e, out.rel.source, out.attr);
    if (!result) return false;
    out.type = *result;
    return true;
  }

  /// Binds every definition of `file`. The result is complete only when no diagnostic was added.
  bound_file run(const ast_file& file) {
    bound_file out;
    out.file = src_.file();
    std::vector<const ast_definition*> defs;
    for (const ast_definition& d : file.definitions) {
      if (d.name.text.empty()) continue;  // broken before its name: nothing to refer to
      const auto index = static_cast<std::uint32_t>(out.segments.size());
      bound_segment seg;
      seg.name = d.name.text;
      seg.pos = d.name.pos;
      if (!d.entity.text.empty()) seg.entity = on_entity(d.entity);
      const auto [it, fresh] = by_name_.emplace(seg.name, index);
      if (!fresh)
        error(d.name.pos, "segment '" + seg.name + "' is already defined at line " +
                              std::to_string(out.segments[it->second].pos.line));
      if (seg.name.size() > max_segment_name)
        error(d.name.pos, "segment name is " + std::to_string(seg.name.size()) +
                              " characters long; at most " + std::to_string(max_segment_name) +
                              " (it names the output file NAME.csv)");
      out.segments.push_back(std::move(seg));
      defs.push_back(&d);
    }
    if (file.definitions.empty() && diags_.empty())
      error(source_pos{1, 1},
            "no segment definitions: a segments file holds one or more "
            "'segment NAME on ENTITY where CONDITION'");
    segments_ = &out.segments;
    refs_.assign(out.segments.size(), {});
    for (std::size_t i = 0; i < defs.size(); ++i) {
      bound_segment& seg = out.segments[i];
      if (!defs[i]->ok || !defs[i]->where || seg.entity == no_entity) continue;
      current_ = static_cast<std::uint32_t>(i);
      seg.where = bind(*defs[i]->where, seg.entity);
      for (const auto& r : refs_[i]) seg.depends_on.push_back(r.first);
    }
    order(out);
    return out;
  }

 private:
  using node_ptr = std::unique_ptr<bound_expr>;

  // --- diagnostics ---------------------------------------------------------------------------
  void error(source_pos pos, std::string message) {
    diags_.push_back(src_.make(pos, std::move(message)));
  }

  const std::string& entity_name(entity_id e) const { return s_.entities[e].name; }

  static std::string path_text(const std::vector<ast_name>& path, std::size_t n) {
    std::string s;
    for (std::size_t i = 0; i < n && i < path.size(); ++i) {
      if (i) s += '.';
      s += path[i].text;
    }
    return s;
  }
  static std::string path_text(const std::vector<ast_name>& path) {
    return path_text(path, path.size());
  }

  // --- the `on` entity -----------------------------------------------------------------------
  entity_id on_entity(const ast_name& n) {
    const entity_id e = s_.find_entity(n.text);
    if (e == no_entity) {
      std::vector<std::string_view> names;
      for (const entity_def& ed : s_.entities) names.push_back(ed.name);
      error(n.pos, "unknown entity '" + n.text + "'" + did_you_mean(n.text, names));
      return no_entity;
    }
    if (!s_.entities[e].key)
      error(n.pos, "entity '" + n.text + "' has no key and cannot be the 'on' entity of a segment");
    return e;
  }

  // --- names ---------------------------------------------------------------------------------
  entity_id link_target(entity_id e, std::uint32_t link) const {
    const link_def& l = s_.entities[e].links[link];
    return l.target != no_entity ? l.target : s_.find_entity(l.to);
  }

  std::vector<std::string_view> attribute_names(entity_id e) const {
    std::vector<std::string_view> v;
    for (const attribute_def& a : s_.entities[e].attributes) v.push_back(a.name);
    return v;
  }
  std::vector<std::string_view> link_names(entity_id e) const {
    std::vector<std::string_view> v;
    for (const link_def& l : s_.entities[e].links) v.push_back(l.name);
    return v;
  }
  std::vector<std::string_view> reverse_names(entity_id e) const {
    std::vector<std::string_view> v;
    for (const reverse_def& r : s_.entities[e].reverses) v.push_back(r.name);
    return v;
  }

  // Follows the first `n` names of `path` as to-one links from `e`. On success `e` is the entity
  // reached and `hops` the links followed; false after reporting an error.
  bool follow_links(const std::vector<ast_name>& path, std::size_t n, entity_id& e,
                    std::vector<link_hop>& hops) {
    for (std::size_t i = 0; i < n; ++i) {
      const ast_name& name = path[i];
      const entity_def& ed = s_.entities[e];
      const int l = ed.find_link(name.text);
      if (l >= 0) {
        const entity_id to = link_target(e, static_cast<std::uint32_t>(l));
        if (to == no_entity) {
          error(name.pos, "link '" + name.text + "' of entity '" + ed.name +
                              "' points at unknown entity '" + ed.links[l].to + "'");
          return false;
        }
        hops.push_back({e, static_cast<std::uint32_t>(l)});
        e = to;
        continue;
      }
      if (ed.find_attribute(name.text) >= 0)
        error(name.pos,
              "'" + name.text + "' is an attribute of entity '" + ed.name + "', not a link");
      else if (ed.find_reverse(name.text) >= 0)
        error(name.pos, "'" + name.text + "' is a to-many relation of entity '" + ed.name +
                            "'; only to-one links can be followed with '.'; test it with any(), "
                            "none(), all(), count() or an aggregate");
      else
        error(name.pos, "unknown link '" + name.text + "' of entity '" + ed.name + "'" +
                            did_you_mean(name.text, link_names(e)));
      return false;
    }
    return true;
  }

  // Resolves `path` from `ctx` to an attribute.
  bool resolve_attribute(const std::vector<ast_name>& path, entity_id ctx, attr_ref& out) {
    entity_id e = ctx;
    if (!follow_links(path, path.size() - 1, e, out.path)) return false;
    const ast_name& name = path.back();
    const entity_def& ed = s_.entities[e];
    const int a = ed.find_attribute(name.text);
    if (a >= 0) {
      out.entity = e;
      out.attribute = static_cast<std::uint32_t>(a);
      out.type = ed.attributes[a].type;
      return true;
    }
    if (ed.find_link(name.text) >= 0)
      error(name.pos, "'" + name.text + "' is a link of entity '" + ed.name +
                          "', not an attribute; compare one of its attributes, as in '" +
                          name.text + ".NAME', or test '" + name.text + " is null'");
    else if (ed.find_reverse(name.text) >= 0)
      error(name.pos, "'" + name.text + "' is a to-many relation of entity '" + ed.name +
                          "', not an attribute; test it with any(), none(), all(), count() or "
                          "an aggregate");
    else
      error(name.pos, "unknown attribute '" + name.text + "' of entity '" + ed.name + "'" +
                          did_you_mean(name.text, attribute_names(e)));
    return false;
  }

  // Resolves `path` from `ctx` to a to-many relation (to-one hops, then a reverse).
  bool resolve_relation(const std::vector<ast_name>& path, entity_id ctx, relation_ref& out) {
    entity_id e = ctx;
    if (!follow_links(path, path.size() - 1, e, out.path)) return false;
    const ast_name& name = path.back();
    const entity_def& ed = s_.entities[e];
    const int r = ed.find_reverse(name.text);
    if (ed.find_attribute(name.text) < 0 && ed.find_link(name.text) < 0 && r >= 0) {
      const reverse_def& rd = ed.reverses[r];
      out.owner = e;
      out.reverse = static_cast<std::uint32_t>(r);
      out.source = rd.source;
      out.link = rd.link;
      if (rd.source >= s_.entities.size() || rd.link >= s_.entities[rd.source].links.size()) {
        error(name.pos, "relation '" + name.text + "' of entity '" + ed.name +
                            "' has no valid source link in the schema");
        return false;
      }
      return true;
    }
    if (ed.find_attribute(name.text) >= 0)
      error(name.pos, "'" + name.text + "' is an attribute of entity '" + ed.name +
                          "', not a to-many relation");
    else if (ed.find_link(name.text) >= 0)
      error(name.pos, "'" + name.text + "' is a to-one link of entity '" + ed.name +
                          "', not a to-many relation; follow it with '.', as in '" + name.text +
                          ".NAME'");
    else
      error(name.pos, "unknown relation '" + name.text + "' of entity '" + ed.name + "'" +
                          did_you_mean(name.text, reverse_names(e)));
    return false;
  }

  // --- literals ------------------------------------------------------------------------------
  static std::string literal_kind(const ast_literal& l) {
    switch (l.k) {
      case ast_literal::kind::string:
        return "a string";
      case ast_literal::kind::integer:
      case ast_literal::kind::floating:
        return "a number";
      case ast_literal::kind::boolean:
        return "a bool";
      case ast_literal::kind::timestamp:
      case ast_literal::kind::now:
        return "a timestamp";
    }
    return "a value";
  }

  static std::string describe(const attr_ref& a, const std::string& text) {
    return std::string(to_string(a.type)) + " attribute '" + text + "'";
  }

  // Types literal `l` for a value of type `t` (what `subject` names in the error). Numbers: `f`
  // always holds the value; `i` holds it exactly when the literal is an integer; the type is
  // `floating` when either side is floating, else `integer`.
  bool fit(const ast_literal& l, value_type t, const std::string& subject, literal& out) {
    using k = ast_literal::kind;
    bool ok = false;
    switch (t) {
      case value_type::string:
      case value_type::string_list:
        ok = l.k == k::string;
        if (ok) {
          out.type = value_type::string;
          out.s = l.s;
        }
        break;
      case value_type::integer:
      case value_type::floating:
        ok = l.k == k::integer || l.k == k::floating;
        if (ok) {
          out.type = l.k == k::floating || t == value_type::floating ? value_type::floating
                                                                     : value_type::integer;
          out.i = l.k == k::integer ? l.i : 0;
          out.integral = l.k == k::integer;
          out.f = l.f;
        }
        break;
      case value_type::boolean:
        ok = l.k == k::boolean;
        if (ok) {
          out.type = value_type::boolean;
          out.b = l.b;
        }
        break;
      case value_type::timestamp:
        ok = l.k == k::timestamp || l.k == k::now;
        if (ok) {
          out.type = value_type::timestamp;
          out.t = l.t;
          out.relative = l.k == k::now;
          out.offset_us = l.k == k::now ? l.offset_us : 0;
        }
        break;
    }
    if (!ok) error(l.pos, "cannot compare " + subject + " with " + literal_kind(l));
    return ok;
  }

  static literal relative_now(std::int64_t offset_us) {
    literal l;
    l.type = value_type::timestamp;
    l.relative = true;
    l.offset_us = offset_us;
    return l;
  }

  // --- expressions ---------------------------------------------------------------------------
  static node_ptr make(bound_expr::kind k, source_pos pos, entity_id ctx) {
    auto n = std::make_unique<bound_expr>();
    n->k = k;
    n->pos = pos;
    n->context = ctx;
    return n;
  }

  // The source text of `e`, line ends and the indentation after them as one space each; or
  // the text the parser gave a node it made up.
  std::string text_of(const ast_expr& e) const {
    if (e.text_end <= e.text_begin) return e.text;
    const std::string_view raw = src_.text().substr(e.text_begin, e.text_end - e.text_begin);
    std::string out;
    out.reserve(raw.size());
    for (std::size_t i = 0; i < raw.size(); ++i) {
      if (raw[i] != '\n' && raw[i] != '\r') {
        out += raw[i];
        continue;
      }
      while (!out.empty() && (out.back() == ' ' || out.back() == '\t')) out.pop_back();
      while (i + 1 < raw.size() &&
             (raw[i + 1] == ' ' || raw[i + 1] == '\t' || raw[i + 1] == '\n' || raw[i + 1] == '\r'))
        ++i;
      out += ' ';
    }
    return out;
  }

  // The text of an and/or the compiler made up: its children's texts joined by the operator.
  static std::string joined(const bound_expr& n) {
    std::string t;
    for (const auto& c : n.children) {
      if (!t.empty()) t += n.k == bound_expr::kind::or_ ? " or " : " and ";
      const bool wrap = n.k == bound_expr::kind::and_ && c->k == bound_expr::kind::or_;
      t += wrap ? "(" + c->text + ")" : c->text;
    }
    return t;
  }

  // Binds `e` over context entity `ctx`; null after reporting errors. Recursion depth is that of
  // the syntax tree, which the parser bounds.
  node_ptr bind(const ast_expr& e, entity_id ctx) {
    node_ptr n = bind_node(e, ctx);
    if (!n) return n;
    n->text = text_of(e);
    if (n->text.empty()) n->text = joined(*n);
    return n;
  }

  node_ptr bind_node(const ast_expr& e, entity_id ctx) {
    using ak = ast_expr::kind;
    using bk = bound_expr::kind;
    if (e.bucket) return bind_bucket(e, ctx);
    switch (e.k) {
      case ak::constant: {
        auto n = make(bk::constant, e.pos, ctx);
        n->constant = e.constant;
        return n;
      }
      case ak::and_:
      case ak::or_: {
        auto n = make(e.k == ak::and_ ? bk::and_ : bk::or_, e.pos, ctx);
        bool ok = true;
        for (const auto& c : e.children) {
          auto b = bind(*c, ctx);
          ok = ok && b;
          if (b) n->children.push_back(std::move(b));
        }
        return ok ? std::move(n) : nullptr;
      }
      case ak::not_: {
        auto b = bind(*e.children[0], ctx);
        if (!b) return nullptr;
        auto n = make(bk::not_, e.pos, ctx);
        n->children.push_back(std::move(b));
        return n;
      }
      case ak::compare: {
        auto n = make(bk::compare, e.pos, ctx);
        n->op = e.op;
        if (!resolve_attribute(e.path, ctx, n->attr)) return nullptr;
        if (!fit(e.value, n->attr.type, describe(n->attr, path_text(e.path)), n->value))
          return nullptr;
        return n;
      }
      case ak::compare_path:
        return bind_compare_attrs(e, ctx);
      case ak::in_list: {
        auto n = make(bk::in_list, e.pos, ctx);
        n->negated = e.negated;
        if (!resolve_attribute(e.path, ctx, n->attr)) return nullptr;
        const std::string subject = describe(n->attr, path_text(e.path));
        bool ok = true;
        for (const ast_literal& l : e.values) {
          literal v;
          ok = fit(l, n->attr.type, subject, v) && ok;
          n->values.push_back(std::move(v));
        }
        return ok ? std::move(n) : nullptr;
      }
      case ak::between: {
        auto n = make(bk::between, e.pos, ctx);
        if (!resolve_attribute(e.path, ctx, n->attr)) return nullptr;
        const std::string subject = describe(n->attr, path_text(e.path));
        const bool lo_ok = fit(e.value, n->attr.type, subject, n->value);
        const bool hi_ok = fit(e.hi, n->attr.type, subject, n->hi);
        return lo_ok && hi_ok ? std::move(n) : nullptr;
      }
      case ak::like: {
        auto n = make(bk::like, e.pos, ctx);
        n->case_insensitive = e.case_insensitive;
        if (!resolve_attribute(e.path, ctx, n->attr)) return nullptr;
        if (!is_textual(n->attr.type)) {
          error(e.pos, std::string("cannot use '") + (e.case_insensitive ? "ilike" : "like") +
                           "' on " + describe(n->attr, path_text(e.path)) +
                           "; it needs a string attribute");
          return nullptr;
        }
        n->value.type = value_type::string;
        n->value.s = e.value.s;
        return n;
      }
      case ak::is_null:
        return bind_is_null(e, ctx);
      case ak::bare: {
        auto n = make(bk::compare, e.pos, ctx);
        if (!resolve_attribute(e.path, ctx, n->attr)) return nullptr;
        if (n->attr.type != value_type::boolean) {
          error(e.pos, describe(n->attr, path_text(e.path)) +
                           " is not a condition; compare it with a value (only a bool attribute "
                           "stands alone)");
          return nullptr;
        }
        n->op = cmp_op::eq;
        n->value.type = value_type::boolean;
        n->value.b = true;
        return n;
      }
      case ak::within: {
        auto n = make(bk::between, e.pos, ctx);
        if (!resolve_attribute(e.path, ctx, n->attr)) return nullptr;
        if (n->attr.type != value_type::timestamp) {
          error(e.pos, "cannot use 'within' on " + describe(n->attr, path_text(e.path)) +
                           "; it needs a timestamp attribute");
          return nullptr;
        }
        n->value = relative_now(e.within_next ? 0 : -e.duration_us);
        n->hi = relative_now(e.within_next ? e.duration_us : 0);
        return n;
      }
      case ak::quantified: {
        auto n = make(bk::quantified, e.pos, ctx);
        n->quant = e.quant;
        if (!resolve_relation(e.path, ctx, n->rel)) return nullptr;
        if (!e.children.empty()) {
          auto p = bind(*e.children[0], n->rel.source);
          if (!p) return nullptr;
          n->children.push_back(std::move(p));
        }
        return n;
      }
      case ak::count: {
        auto n = make(bk::count, e.pos, ctx);
        n->fn = aggregate_fn::count;
        if (!resolve_relation(e.path, ctx, n->rel)) return nullptr;
        bool ok = bind_filter(e, *n);
        ok = bind_test(e.test, value_type::integer, "count()", n->test) && ok;
        return ok ? std::move(n) : nullptr;
      }
      case ak::aggregate:
        return bind_aggregate(e, ctx);
      case ak::in_segment:
        return bind_in_segment(e, ctx);
      case ak::sequence:
        return bind_sequence(e, ctx);
      case ak::top:
        return bind_top(e, ctx);
    }
    return nullptr;
  }

  // `bucket("SALT", N)` compared (SPEC 3.5): an int of the context entity's key.
  node_ptr bind_bucket(const ast_expr& e, entity_id ctx) {
    using ak = ast_expr::kind;
    using bk = bound_expr::kind;
    auto n = make(e.k == ak::compare   ? bk::compare
                  : e.k == ak::in_list ? bk::in_list
                                       : bk::between,
                  e.pos, ctx);
    const entity_def& def = s_.entities[ctx];
    bool ok = true;
    if (!def.key) {
      error(e.pos, "bucket(...) hashes the key, and entity '" + def.name + "' has no key");
      ok = false;
    }
    constexpr std::int64_t most = std::int64_t(1) << 31;
    if (e.bucket_n < 1 || e.bucket_n > most) {
      error(e.bucket_n_pos, "the number of buckets must be between 1 and 2147483648");
      ok = false;
    }
    n->bucket = bucket_ref{e.bucket_salt, static_cast<std::uint64_t>(e.bucket_n)};
    n->op = e.op;
    n->negated = e.negated;
    n->attr.entity = ctx;
    n->attr.type = value_type::integer;
    const std::string subject = "bucket(...), an int,";
    if (e.k == ak::compare) ok = fit(e.value, value_type::integer, subject, n->value) && ok;
    if (e.k == ak::between) {
      ok = fit(e.value, value_type::integer, subject, n->value) && ok;
      ok = fit(e.hi, value_type::integer, subject, n->hi) && ok;
    }
    for (const ast_literal& l : e.values) {
      literal v;
      ok = fit(l, value_type::integer, subject, v) && ok;
      n->values.push_back(std::move(v));
    }
    return ok ? std::move(n) : nullptr;
  }

  node_ptr bind_compare_attrs(const ast_expr& e, entity_id ctx) {
    auto n = make(bound_expr::kind::compare_attrs, e.pos, ctx);
    n->op = e.op;
    const bool left = resolve_attribute(e.path, ctx, n->attr);
    const bool right = resolve_attribute(e.path2, ctx, n->attr2);
    if (!left || !right) return nullptr;
    const value_type a = n->attr.type, b = n->attr2.type;
    const auto number = [](value_type t) {
      return t == value_type::integer || t == value_type::floating;
    };
    if (a == value_type::string_list || b == value_type::string_list) {
      const bool l = a == value_type::string_list;
      error(l ? e.pos : e.path2.front().pos,
            "cannot compare " + describe(l ? n->attr : n->attr2, path_text(l ? e.path : e.path2)) +
                " with another attribute");
      return nullptr;
    }
    if (a != b && !(number(a) && number(b))) {
      error(e.path2.front().pos, "cannot compare " + describe(n->attr, path_text(e.path)) +
                                     " with " + describe(n->attr2, path_text(e.path2)));
      return nullptr;
    }
    return n;
  }

  node_ptr bind_is_null(const ast_expr& e, entity_id ctx) {
    entity_id ent = ctx;
    std::vector<link_hop> hops;
    if (!follow_links(e.path, e.path.size() - 1, ent, hops)) return nullptr;
    const ast_name& name = e.path.back();
    const entity_def& ed = s_.entities[ent];
    const int a = ed.find_attribute(name.text);
    if (a >= 0) {
      auto n = make(bound_expr::kind::is_null, e.pos, ctx);
      n->negated = e.negated;
      n->attr.path = std::move(hops);
      n->attr.entity = ent;
      n->attr.attribute = static_cast<std::uint32_t>(a);
      n->attr.type = ed.attributes[a].type;
      return n;
    }
    const int l = ed.find_link(name.text);
    if (l >= 0) {
      const entity_id to = link_target(ent, static_cast<std::uint32_t>(l));
      if (to == no_entity) {
        error(name.pos, "link '" + name.text + "' of entity '" + ed.name +
                            "' points at unknown entity '" + ed.links[l].to + "'");
        return nullptr;
      }
      auto n = make(bound_expr::kind::link_is_null, e.pos, ctx);
      n->negated = e.negated;
      hops.push_back({ent, static_cast<std::uint32_t>(l)});
      n->attr.path = std::move(hops);
      n->attr.entity = to;
      return n;
    }
    if (ed.find_reverse(name.text) >= 0) {
      error(name.pos, "'" + name.text + "' is a to-many relation of entity '" + ed.name +
                          "'; test it with " + name.text + ".any() or " + name.text +
                          ".none() instead of 'is " + (e.negated ? "not " : "") + "null'");
      return nullptr;
    }
    std::vector<std::string_view> names = attribute_names(ent);
    for (std::string_view v : link_names(ent)) names.push_back(v);
    error(name.pos, "unknown attribute or link '" + name.text + "' of entity '" + ed.name + "'" +
                        did_you_mean(name.text, names));
    return nullptr;
  }

  // The filter of count(): `where(P)`, the condition inside count(Q), or both (and).
  bool bind_filter(const ast_expr& e, bound_expr& n) {
    const entity_id src = n.rel.source;
    node_ptr w, c;
    bool ok = true;
    if (e.filter) ok = static_cast<bool>(w = bind(*e.filter, src));
    if (!e.children.empty()) ok = static_cast<bool>(c = bind(*e.children[0], src)) && ok;
    if (!ok) return false;
    if (w && c) {
      auto both = make(bound_expr::kind::and_, w->pos, src);
      both->children.push_back(std::move(w));
      both->children.push_back(std::move(c));
      both->text = joined(*both);
      n.children.push_back(std::move(both));
    } else if (w || c) {
      n.children.push_back(w ? std::move(w) : std::move(c));
    }
    return true;
  }

  bool bind_test(const ast_number_test& t, value_type type, const std::string& subject,
                 number_test& out) {
    out.between = t.between;
    out.op = t.op;
    bool ok = fit(t.value, type, subject, out.value);
    if (t.between) ok = fit(t.hi, type, subject, out.hi) && ok;
    return ok;
  }

  static std::string fn_name(aggregate_fn fn) {
    return fn == aggregate_fn::sum   ? "sum"
           : fn == aggregate_fn::avg ? "avg"
           : fn == aggregate_fn::min ? "min"
                                     : "max";
  }

  // Resolves the attribute of aggregate `e` (a `sum/avg/min/max(attr)`) on the relation's
  // source into `attr` and checks that `fn` applies to it: numeric or timestamp, no sum of
  // timestamps. Returns the type of the aggregate's value (avg of an int is fractional), or
  // nullopt after reporting an error.
  std::optional<value_type> aggregate_attribute(const ast_expr& e, entity_id source,
                                                attr_ref& attr) {
    const std::vector<ast_name> arg{e.fn_attr};
    if (!resolve_attribute(arg, source, attr)) return std::nullopt;
    const value_type t = attr.type;
    const std::string described = describe(attr, e.fn_attr.text);
    if (t != value_type::integer && t != value_type::floating && t != value_type::timestamp) {
      error(e.fn_attr.pos, "cannot aggregate " + described + "; " + fn_name(e.fn) +
                               "() needs a numeric or timestamp attribute");
      return std::nullopt;
    }
    if (t == value_type::timestamp && e.fn == aggregate_fn::sum) {
      error(e.fn_attr.pos, "cannot sum " + described + "; use min(), max() or avg()");
      return std::nullopt;
    }
    return e.fn == aggregate_fn::avg && t == value_type::integer ? value_type::floating : t;
  }

  node_ptr bind_aggregate(const ast_expr& e, entity_id ctx) {
    auto n = make(bound_expr::kind::aggregate, e.pos, ctx);
    n->fn = e.fn;
    if (!resolve_relation(e.path, ctx, n->rel)) return nullptr;
    bool ok = bind_filter(e, *n);
    const std::optional<value_type> result = aggregate_attribute(e, n->rel.source, n->attr);
    if (!result) return nullptr;
    ok = bind_test(e.test, *result, fn_name(e.fn) + "(" + e.fn_attr.text + ")", n->test) && ok;
    return ok ? std::move(n) : nullptr;
  }

  // `rel.sequence(TS, P1 then P2 ... [within D])` (SPEC 3.5): steps over the related entity.
  node_ptr bind_sequence(const ast_expr& e, entity_id ctx) {
    auto n = make(bound_expr::kind::sequence, e.pos, ctx);
    if (!resolve_relation(e.path, ctx, n->rel)) return nullptr;
    bool ok = resolve_attribute({e.fn_attr}, n->rel.source, n->attr);
    if (ok && n->attr.type != value_type::timestamp) {
      error(e.fn_attr.pos, "sequence(...) orders its steps by a timestamp, and " +
                               describe(n->attr, e.fn_attr.text) + " is not one");
      ok = false;
    }
    for (const auto& c : e.children) {
      auto b = bind(*c, n->rel.source);
      ok = ok && b;
      if (b) n->children.push_back(std::move(b));
    }
    if (e.has_within) n->within_us = e.duration_us;
    return ok ? std::move(n) : nullptr;
  }

  // `top(N, by ..., per LINK, where P)` (SPEC 3.5): ranks rows of the context entity.
  node_ptr bind_top(const ast_expr& e, entity_id ctx) {
    auto n = make(bound_expr::kind::top, e.pos, ctx);
    const entity_def& def = s_.entities[ctx];
    bool ok = true;
    if (!def.key) {
      error(e.pos, "top(...) breaks ties by the key, and entity '" + def.name + "' has no key");
      ok = false;
    }
    if (e.top_n < 1) {
      error(e.top_n_pos, "top(N, ...) needs N of at least 1");
      ok = false;
    }
    n->top_n = static_cast<std::uint64_t>(std::max<std::int64_t>(e.top_n, 0));
    for (const auto& k : e.order) {
      attr_ref a;
      if (!resolve_attribute({k.attr}, ctx, a)) {
        ok = false;
        continue;
      }
      if (a.type == value_type::string_list) {
        error(k.attr.pos, "cannot rank by " + describe(a, k.attr.text) +
                              "; top(...) ranks by attributes of one value");
        ok = false;
        continue;
      }
      n->order.push_back({a.attribute, a.type, k.desc});
    }
    if (!e.per.text.empty()) {
      const int l = def.find_link(e.per.text);
      if (l < 0) {
        error(e.per.pos, "'per' groups by a to-one link, and entity '" + def.name +
                             "' has no link '" + e.per.text + "'" +
                             did_you_mean(e.per.text, link_names(ctx)));
        ok = false;
      }
      n->per_link = l;
    }
    if (e.filter) {
      auto f = bind(*e.filter, ctx);
      ok = ok && f;
      if (f) n->children.push_back(std::move(f));
    }
    return ok ? std::move(n) : nullptr;
  }

  node_ptr bind_in_segment(const ast_expr& e, entity_id ctx) {
    auto n = make(bound_expr::kind::in_segment, e.pos, ctx);
    entity_id reached = ctx;
    if (!follow_links(e.path, e.path.size(), reached, n->attr.path)) return nullptr;
    n->attr.entity = reached;
    const auto it = by_name_.find(e.segment.text);
    if (it == by_name_.end()) {
      std::vector<std::string_view> names;
      for (const bound_segment& s : *segments_) names.push_back(s.name);
      error(e.segment.pos,
            "unknown segment '" + e.segment.text + "'" + did_you_mean(e.segment.text, names));
      return nullptr;
    }
    const std::uint32_t target = it->second;
    const entity_id target_entity = (*segments_)[target].entity;
    if (target_entity != no_entity && target_entity != reached) {
      error(e.segment.pos, "segment '" + e.segment.text + "' is on entity '" +
                               entity_name(target_entity) + "', but in_segment is applied to '" +
                               entity_name(reached) + "'");
      return nullptr;
    }
    n->segment = target;
    auto& refs = refs_[current_];
    const bool seen =
        std::any_of(refs.begin(), refs.end(), [&](const auto& r) { return r.first == target; });
    if (!seen) refs.emplace_back(target, e.op_pos);
    return n;
  }

  // --- segment references --------------------------------------------------------------------
  // Reports every reference cycle (one per strongly connected component) and, when there is
  // none, fills `out.order` so that each segment follows those it references.
  void order(bound_file& out) {
    const std::size_t n = out.segments.size();
    constexpr std::uint32_t unset = std::numeric_limits<std::uint32_t>::max();
    std::vector<std::uint32_t> index(n, unset), low(n, 0), component(n, unset);
    std::vector<bool> on_stack(n, false);
    std::vector<std::uint32_t> stack, sorted;
    std::vector<std::vector<std::uint32_t>> components;
    std::vector<std::pair<std::uint32_t, std::size_t>> calls;  // (segment, next edge)
    std::uint32_t counter = 0;
    // Tarjan's algorithm, iterative so that long reference chains cannot overflow the stack. It
    // emits components dependencies first, which is the order we want.
    for (std::uint32_t root = 0; root < n; ++root) {
      if (index[root] != unset) continue;
      index[root] = low[root] = counter++;
      stack.push_back(root);
      on_stack[root] = true;
      calls.emplace_back(root, 0);
      while (!calls.empty()) {
        const std::uint32_t u = calls.back().first;
        const auto& edges = out.segments[u].depends_on;
        if (calls.back().second < edges.size()) {
          const std::uint32_t w = edges[calls.back().second++];
          if (index[w] == unset) {
            index[w] = low[w] = counter++;
            stack.push_back(w);
            on_stack[w] = true;
            calls.emplace_back(w, 0);
          } else if (on_stack[w]) {
            low[u] = std::min(low[u], index[w]);
          }
          continue;
        }
        calls.pop_back();
        if (!calls.empty()) low[calls.back().first] = std::min(low[calls.back().first], low[u]);
        if (low[u] != index[u]) continue;
        std::vector<std::uint32_t> members;
        std::uint32_t w = unset;
        do {
          w = stack.back();
          stack.pop_back();
          on_stack[w] = false;
          component[w] = static_cast<std::uint32_t>(components.size());
          members.push_back(w);
        } while (w != u);
        for (std::uint32_t m : members) sorted.push_back(m);
        components.push_back(std::move(members));
      }
    }
    bool cyclic = false;
    for (const auto& members : components) {
      const std::uint32_t a = *std::min_element(members.begin(), members.end());
      const auto& deps = out.segments[a].depends_on;
      const bool self = std::find(deps.begin(), deps.end(), a) != deps.end();
      if (members.size() < 2 && !self) continue;
      cyclic = true;
      report_cycle(out, a, component);
    }
    if (!cyclic) out.order = std::move(sorted);
  }

  // Reports the shortest cycle through segment `a` within its component.
  void report_cycle(const bound_file& out, std::uint32_t a,
                    const std::vector<std::uint32_t>& component) {
    const std::size_t n = out.segments.size();
    constexpr std::uint32_t unset = std::numeric_limits<std::uint32_t>::max();
    std::vector<std::uint32_t> parent(n, unset);
    std::vector<std::uint32_t> queue{a};
    std::uint32_t last = unset;  // the segment whose reference closes the cycle back to `a`
    for (std::size_t q = 0; q < queue.size() && last == unset; ++q) {
      const std::uint32_t u = queue[q];
      for (std::uint32_t w : out.segments[u].depends_on) {
        if (component[w] != component[a]) continue;
        if (w == a) {
          last = u;
          break;
        }
        if (parent[w] != unset) continue;
        parent[w] = u;
        queue.push_back(w);
      }
    }
    std::vector<std::uint32_t> chain;  // a, ..., last
    for (std::uint32_t u = last; u != a; u = parent[u]) chain.push_back(u);
    chain.push_back(a);
    std::reverse(chain.begin(), chain.end());
    std::string text;
    for (std::uint32_t u : chain) text += out.segments[u].name + " -> ";
    text += out.segments[a].name;
    const std::uint32_t next = chain.size() > 1 ? chain[1] : a;
    source_pos at = out.segments[a].pos;
    for (const auto& r : refs_[a])
      if (r.first == next) at = r.second;
    error(at, "segment '" + out.segments[a].name + "' depends on itself: " + text);
  }

  const schema& s_;
  const source_text& src_;
  std::vector<diagnostic>& diags_;
  std::unordered_map<std::string, std::uint32_t> by_name_;
  const std::vector<bound_segment>* segments_ = nullptr;
  std::vector<std::vector<std::pair<std::uint32_t, source_pos>>> refs_;  // per segment, first use
  std::uint32_t current_ = 0;
};

}  // namespace detail::lang

}  // namespace b2bseg
