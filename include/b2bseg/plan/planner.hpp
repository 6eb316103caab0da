// Lowers bound segments to one shared plan DAG: paths become to_one hops, quantifiers and
// aggregates become per-parent nodes, and equal sub-expressions are hash-consed into one node.
#pragma once

#include <algorithm>
#include <cstring>
#include <string>
#include <unordered_map>
#include <vector>

#include "b2bseg/common/exact.hpp"
#include "b2bseg/common/parse.hpp"
#include "b2bseg/lang/bound.hpp"
#include "b2bseg/plan/plan.hpp"

namespace b2bseg {

namespace detail {

inline const char* op_text(cmp_op op) noexcept {
  switch (op) {
    case cmp_op::eq:
      return "=";
    case cmp_op::ne:
      return "!=";
    case cmp_op::lt:
      return "<";
    case cmp_op::le:
      return "<=";
    case cmp_op::gt:
      return ">";
    case cmp_op::ge:
      return ">=";
  }
  return "?";
}

inline const char* fn_text(aggregate_fn fn) noexcept {
  switch (fn) {
    case aggregate_fn::count:
      return "count";
    case aggregate_fn::sum:
      return "sum";
    case aggregate_fn::avg:
      return "avg";
    case aggregate_fn::min:
      return "min";
    case aggregate_fn::max:
      return "max";
  }
  return "?";
}

/// A literal as text, for labels: strings quoted, timestamps in ISO form.
inline std::string literal_text(const literal& l) {
  switch (l.type) {
    case value_type::string:
    case value_type::string_list: {
      std::string s = "\"";
      for (char c : l.s) {
        if (c == '"' || c == '\\') s += '\\';
        s += c;
      }
      return s + "\"";
    }
    case value_type::integer:
      return std::to_string(l.i);
    case value_type::floating: {
      if (l.integral) return std::to_string(l.i);
      char buf[64];
      std::snprintf(buf, sizeof buf, "%.17g", l.f);
      return buf;
    }
    case value_type::boolean:
      return l.b ? "true" : "false";
    case value_type::timestamp:
      return "@" + format_timestamp(l.t);
  }
  return "?";
}

/// Appends a canonical, unambiguous encoding of `l` to `k`.
inline void literal_key(std::string& k, const literal& l) {
  k += static_cast<char>('0' + static_cast<int>(l.type));
  switch (l.type) {
    case value_type::string:
    case value_type::string_list:
      k += std::to_string(l.s.size());
      k += ':';
      k += l.s;
      break;
    case value_type::integer:
      k += std::to_string(l.i);
      break;
    case value_type::floating: {
      if (l.integral) {  // exact: 2^53 + 1 and 2^53 are different literals
        k += 'i' + std::to_string(l.i);
        break;
      }
      char buf[8];
      std::memcpy(buf, &l.f, 8);
      k.append(buf, 8);
      break;
    }
    case value_type::boolean:
      k += l.b ? '1' : '0';
      break;
    case value_type::timestamp:
      k += std::to_string(l.t);
      break;
  }
  k += ';';
}

inline void attr_ref_key(std::string& k, const attr_ref& a) {
  // Appended piece by piece: `"h" + std::to_string(...)` trips GCC 12's -Wrestrict false
  // positive (operator+(const char*, string&&)).
  for (const auto& h : a.path) {
    k += 'h';
    k += std::to_string(h.from);
    k += '.';
    k += std::to_string(h.link);
  }
  k += 'a';
  k += std::to_string(a.entity);
  k += '.';
  k += std::to_string(a.attribute);
  k += ';';
}

/// The lowering pass. One instance per plan; not thread-safe.
class planner {
 public:
  planner(const schema& s, const bound_file& f, timestamp_us as_of) : s_(s), f_(f), as_of_(as_of) {
    seg_node_.assign(f.segments.size(), ~0u);
  }

  /// The root node of segment `i`, lowering it (and what it references) on first use.
  std::uint32_t segment_root(std::uint32_t i) {
    if (seg_node_[i] == ~0u) {
      seg_node_[i] = lower(*f_.segments[i].where);
      if (seg_node_[i] >= is_root_.size()) is_root_.resize(seg_node_[i] + 1, false);
      is_root_[seg_node_[i]] = true;
    }
    return seg_node_[i];
  }

  plan take(std::vector<plan::root> roots) {
    plan p;
    p.nodes = std::move(nodes_);
    p.roots = std::move(roots);
    p.requested = requested_;
    for (auto& n : p.nodes)
      for (auto in : n.inputs) ++p.nodes[in].uses;
    for (auto& r : p.roots) ++p.nodes[r.node].uses;
    return p;
  }

  std::uint32_t lower(const bound_expr& e) {
    using K = bound_expr::kind;
    const entity_id ctx = e.context;
    switch (e.k) {
      case K::constant:
        return e.constant ? all(ctx) : empty(ctx);
      case K::compare:
      case K::in_list:
      case K::between:
      case K::like:
      case K::is_null: {
        scan_pred p;
        p.attribute = e.attr.attribute;
        p.negated = e.negated;
        p.case_insensitive = e.case_insensitive;
        p.op = e.op;
        if (e.k == K::compare) {
          p.k = scan_pred::kind::compare;
          p.values = {resolve(e.value)};
        }
        if (e.k == K::in_list) {
          p.k = scan_pred::kind::in_list;
          for (const auto& v : e.values) p.values.push_back(resolve(v));
        }
        if (e.k == K::between) {
          p.k = scan_pred::kind::between;
          p.values = {resolve(e.value), resolve(e.hi)};
        }
        if (e.k == K::like) {
          p.k = scan_pred::kind::like;
          p.values = {e.value};
        }
        if (e.k == K::is_null) p.k = scan_pred::kind::is_null;
        if (e.bucket) {  // the context's own key: no path
          p.attribute = 0;
          p.bucket = e.bucket;
          return scan(ctx, std::move(p));
        }
        return via(e.attr.path, scan(e.attr.entity, std::move(p)));
      }
      case K::compare_attrs: {
        scan_pred p;
        p.k = scan_pred::kind::compare_attrs;
        p.op = e.op;
        p.left = e.attr;
        p.right = e.attr2;
        return scan(ctx, std::move(p));
      }
      case K::link_is_null: {
        std::vector<link_hop> hops = e.attr.path;
        link_hop last = hops.back();
        hops.pop_back();
        scan_pred p;
        p.k = scan_pred::kind::link_null;
        p.link = last.link;
        p.negated = e.negated;
        return via(hops, scan(last.from, std::move(p)));
      }
      case K::and_:
      case K::or_: {
        std::vector<std::uint32_t> in;
        for (const auto& c : e.children) in.push_back(lower(*c));
        return e.k == K::and_ ? and_(ctx, std::move(in)) : or_(ctx, std::move(in));
      }
      case K::not_:
        return not_(ctx, lower(*e.children[0]));
      case K::quantified: {
        const entity_id src = e.rel.source;
        std::uint32_t filter = e.children.empty() ? all(src) : lower(*e.children[0]);
        number_test t;
        t.value.type = value_type::integer;
        if (e.quant == quantifier::any) {
          t.op = cmp_op::ge;
          t.value.i = 1;
        }
        if (e.quant == quantifier::none) {
          t.op = cmp_op::eq;
          t.value.i = 0;
        }
        if (e.quant == quantifier::all) {
          t.op = cmp_op::eq;
          t.value.i = 0;
          filter = not_(src, filter);
        }
        return via(e.rel.path, rev_count(e.rel, filter, t));
      }
      case K::count: {
        std::uint32_t filter = e.children.empty() ? all(e.rel.source) : lower(*e.children[0]);
        return via(e.rel.path, rev_count(e.rel, filter, resolve(e.test)));
      }
      case K::aggregate: {
        std::uint32_t filter = e.children.empty() ? all(e.rel.source) : lower(*e.children[0]);
        plan_node n;
        n.op = plan_op::rev_aggregate;
        n.entity = e.rel.owner;
        n.source = e.rel.source;
        n.link = e.rel.link;
        n.fn = e.fn;
        n.attribute = e.attr.attribute;
        n.test = resolve(e.test);
        n.inputs = {filter};
        return via(e.rel.path, intern(std::move(n)));
      }
      case K::in_segment:
        return via(e.attr.path, segment_root(e.segment));
      case K::sequence: {
        plan_node n;
        n.op = plan_op::rev_sequence;
        n.entity = e.rel.owner;
        n.source = e.rel.source;
        n.link = e.rel.link;
        n.attribute = e.attr.attribute;
        n.within_us = e.within_us ? *e.within_us : -1;
        for (const auto& c : e.children) {
          n.inputs.push_back(lower(*c));
          if (nodes_[n.inputs.back()].op == plan_op::empty) return empty(ctx);  // a step never met
        }
        return via(e.rel.path, intern(std::move(n)));
      }
      case K::top: {
        plan_node n;
        n.op = plan_op::top;
        n.entity = ctx;
        n.top_n = e.top_n;
        n.order = e.order;
        n.per_link = e.per_link;
        n.inputs = {e.children.empty() ? all(ctx) : lower(*e.children[0])};
        if (nodes_[n.inputs[0]].op == plan_op::empty) return empty(ctx);
        return intern(std::move(n));
      }
    }
    return empty(ctx);
  }

  std::uint32_t all(entity_id e) { return simple(plan_op::all, e); }
  std::uint32_t empty(entity_id e) { return simple(plan_op::empty, e); }

 private:
  literal resolve(const literal& l) const {
    literal r = l;
    if (r.type == value_type::timestamp && r.relative) {
      r.t = saturating_add(as_of_, r.offset_us);
      r.relative = false;
      r.offset_us = 0;
    }
    return r;
  }
  number_test resolve(const number_test& t) const {
    number_test r = t;
    r.value = resolve(t.value);
    r.hi = resolve(t.hi);
    return r;
  }

  std::uint32_t simple(plan_op op, entity_id e) {
    plan_node n;
    n.op = op;
    n.entity = e;
    return intern(std::move(n));
  }

  std::uint32_t scan(entity_id e, scan_pred p) {
    plan_node n;
    n.op = plan_op::scan;
    n.entity = e;
    n.pred = std::move(p);
    return intern(std::move(n));
  }

  /// Follows to-one hops backwards: a set over the end of `hops` becomes a set over its start.
  std::uint32_t via(const std::vector<link_hop>& hops, std::uint32_t node) {
    for (auto it = hops.rbegin(); it != hops.rend(); ++it) {
      const plan_node& in = nodes_[node];
      if (in.op == plan_op::empty) {
        node = empty(it->from);
        continue;
      }
      if (in.op == plan_op::all) {  // parent anywhere: the link is set
        scan_pred p;
        p.k = scan_pred::kind::link_null;
        p.link = it->link;
        p.negated = true;
        node = scan(it->from, std::move(p));
        continue;
      }
      plan_node n;
      n.op = plan_op::to_one;
      n.entity = it->from;
      n.link = it->link;
      n.inputs = {node};
      node = intern(std::move(n));
    }
    return node;
  }

  std::uint32_t rev_count(const relation_ref& rel, std::uint32_t filter, number_test t) {
    if (nodes_[filter].op == plan_op::empty) {  // every parent counts 0
      return passes(t, 0) ? all(rel.owner) : empty(rel.owner);
    }
    plan_node n;
    n.op = plan_op::rev_count;
    n.entity = rel.owner;
    n.source = rel.source;
    n.link = rel.link;
    n.fn = aggregate_fn::count;
    n.test = std::move(t);
    n.inputs = {filter};
    return intern(std::move(n));
  }

  static bool passes(const number_test& t, long double x) {
    auto num = [](const literal& l) { return detail::literal_number(l); };
    if (t.between) return num(t.value) <= x && x <= num(t.hi);
    long double v = num(t.value);
    switch (t.op) {
      case cmp_op::eq:
        return x == v;
      case cmp_op::ne:
        return x != v;
      case cmp_op::lt:
        return x < v;
      case cmp_op::le:
        return x <= v;
      case cmp_op::gt:
        return x > v;
      case cmp_op::ge:
        return x >= v;
    }
    return false;
  }

  bool is_segment_root(std::uint32_t node) const {
    return node < is_root_.size() && is_root_[node];
  }

  std::uint32_t and_(entity_id e, std::vector<std::uint32_t> in) {
    std::vector<std::uint32_t> flat;
    for (auto i : in) {
      const plan_node& n = nodes_[i];
      if (n.op == plan_op::empty) return empty(e);
      if (n.op == plan_op::all) continue;
      if (n.op == plan_op::and_ && !is_segment_root(i))
        flat.insert(flat.end(), n.inputs.begin(), n.inputs.end());
      else
        flat.push_back(i);
    }
    std::sort(flat.begin(), flat.end());
    flat.erase(std::unique(flat.begin(), flat.end()), flat.end());
    for (auto i : flat)  // x and not x
      if (nodes_[i].op == plan_op::not_ &&
          std::binary_search(flat.begin(), flat.end(), nodes_[i].inputs[0]))
        return empty(e);
    if (flat.empty()) return all(e);
    if (flat.size() == 1) return flat[0];
    plan_node n;
    n.op = plan_op::and_;
    n.entity = e;
    n.inputs = std::move(flat);
    return intern(std::move(n));
  }

  std::uint32_t or_(entity_id e, std::vector<std::uint32_t> in) {
    std::vector<std::uint32_t> flat;
    for (auto i : in) {
      const plan_node& n = nodes_[i];
      if (n.op == plan_op::all) return all(e);
      if (n.op == plan_op::empty) continue;
      if (n.op == plan_op::or_ && !is_segment_root(i))
        flat.insert(flat.end(), n.inputs.begin(), n.inputs.end());
      else
        flat.push_back(i);
    }
    std::sort(flat.begin(), flat.end());
    flat.erase(std::unique(flat.begin(), flat.end()), flat.end());
    for (auto i : flat)
      if (nodes_[i].op == plan_op::not_ &&
          std::binary_search(flat.begin(), flat.end(), nodes_[i].inputs[0]))
        return all(e);
    if (flat.empty()) return empty(e);
    if (flat.size() == 1) return flat[0];
    plan_node n;
    n.op = plan_op::or_;
    n.entity = e;
    n.inputs = std::move(flat);
    return intern(std::move(n));
  }

  std::uint32_t not_(entity_id e, std::uint32_t in) {
    const plan_node& c = nodes_[in];
    if (c.op == plan_op::all) return empty(e);
    if (c.op == plan_op::empty) return all(e);
    if (c.op == plan_op::not_) return c.inputs[0];
    plan_node n;
    n.op = plan_op::not_;
    n.entity = e;
    n.inputs = {in};
    return intern(std::move(n));
  }

  std::string key_of(const plan_node& n) const {
    std::string k;
    k += static_cast<char>('A' + static_cast<int>(n.op));
    k += std::to_string(n.entity) + "|";
    switch (n.op) {
      case plan_op::scan: {
        const scan_pred& p = n.pred;
        k += static_cast<char>('a' + static_cast<int>(p.k));
        k += std::to_string(p.attribute) + "," + std::to_string(p.link) + ",";
        k += static_cast<char>('0' + static_cast<int>(p.op));
        k += p.negated ? 'n' : '-';
        k += p.case_insensitive ? 'i' : '-';
        for (const auto& v : p.values) literal_key(k, v);
        if (p.k == scan_pred::kind::compare_attrs) {
          attr_ref_key(k, p.left);
          attr_ref_key(k, p.right);
        }
        if (p.bucket) {  // the salt's length first: no two (salt, n) share a key
          k += "B" + std::to_string(p.bucket->salt.size()) + ":" + p.bucket->salt + "/" +
               std::to_string(p.bucket->n);
        }
        break;
      }
      case plan_op::to_one:
        k += "l" + std::to_string(n.link);
        break;
      case plan_op::rev_sequence:
        k += "s" + std::to_string(n.source) + "l" + std::to_string(n.link) + "a" +
             std::to_string(n.attribute) + "w" + std::to_string(n.within_us);
        break;
      case plan_op::top:
        k += "n" + std::to_string(n.top_n) + "p" + std::to_string(n.per_link);
        for (const order_key& o : n.order) k += (o.desc ? "d" : "a") + std::to_string(o.attribute);
        break;
      case plan_op::rev_count:
      case plan_op::rev_aggregate:
        k += "s" + std::to_string(n.source) + "l" + std::to_string(n.link) + "f" +
             std::to_string(int(n.fn)) + "a" + std::to_string(n.attribute);
        k += n.test.between ? 'b' : static_cast<char>('0' + static_cast<int>(n.test.op));
        literal_key(k, n.test.value);
        if (n.test.between) literal_key(k, n.test.hi);
        break;
      default:
        break;
    }
    k += "(";
    for (auto i : n.inputs) k += std::to_string(i) + ",";
    k += ")";
    return k;
  }

  static literal bucket_salt(const bucket_ref& b) {
    literal l;
    l.s = b.salt;
    return l;
  }

  std::string attr_name(entity_id e, std::uint32_t a) const {
    return s_.entities[e].attributes[a].name;
  }

  std::string path_text(const attr_ref& a) const {
    std::string t;
    for (const auto& h : a.path) t += s_.entities[h.from].links[h.link].name + ".";
    return t + attr_name(a.entity, a.attribute);
  }

  std::string test_text(const number_test& t) const {
    if (t.between) return "between " + literal_text(t.value) + " and " + literal_text(t.hi);
    return std::string(op_text(t.op)) + " " + literal_text(t.value);
  }

  std::string reverse_name(entity_id owner, entity_id source, std::uint32_t link) const {
    for (const auto& r : s_.entities[owner].reverses)
      if (r.source == source && r.link == link) return r.name;
    return s_.entities[source].name + "." + s_.entities[source].links[link].name;
  }

  std::string label_of(const plan_node& n) const {
    const std::string& en = s_.entities[n.entity].name;
    switch (n.op) {
      case plan_op::all:
        return "all " + en;
      case plan_op::empty:
        return "no " + en;
      case plan_op::and_:
        return "and";
      case plan_op::or_:
        return "or";
      case plan_op::not_:
        return "not";
      case plan_op::to_one:
        return "via " + en + "." + s_.entities[n.entity].links[n.link].name;
      case plan_op::rev_count:
        return en + "." + reverse_name(n.entity, n.source, n.link) + ".count() " +
               test_text(n.test);
      case plan_op::rev_aggregate:
        return en + "." + reverse_name(n.entity, n.source, n.link) + "." + fn_text(n.fn) + "(" +
               attr_name(n.source, n.attribute) + ") " + test_text(n.test);
      case plan_op::rev_sequence: {
        std::string t = en + "." + reverse_name(n.entity, n.source, n.link) + ".sequence(" +
                        attr_name(n.source, n.attribute) + ", " + std::to_string(n.inputs.size()) +
                        " steps";
        if (n.within_us >= 0) t += " within " + std::to_string(n.within_us / 1'000'000) + " s";
        return t + ")";
      }
      case plan_op::top: {
        std::string t = "top(" + std::to_string(n.top_n);
        for (const order_key& o : n.order)
          t += ", by " + attr_name(n.entity, o.attribute) + (o.desc ? " desc" : "");
        if (n.per_link >= 0)
          t += ", per " + s_.entities[n.entity].links[static_cast<std::size_t>(n.per_link)].name;
        return t + ") of " + en;
      }
      case plan_op::scan: {
        const scan_pred& p = n.pred;
        std::string a =
            en + "." +
            (p.bucket ? "bucket(" + literal_text(bucket_salt(*p.bucket)) + ", " +
                            std::to_string(p.bucket->n) + ")"
             : p.k == scan_pred::kind::link_null     ? s_.entities[n.entity].links[p.link].name
             : p.k == scan_pred::kind::compare_attrs ? path_text(p.left)
                                                     : attr_name(n.entity, p.attribute));
        switch (p.k) {
          case scan_pred::kind::compare:
            return a + " " + op_text(p.op) + " " + literal_text(p.values[0]);
          case scan_pred::kind::in_list: {
            std::string t = a + (p.negated ? " not in (" : " in (");
            for (std::size_t i = 0; i < p.values.size(); ++i)
              t += (i ? ", " : "") + literal_text(p.values[i]);
            return t + ")";
          }
          case scan_pred::kind::between:
            return a + " between " + literal_text(p.values[0]) + " and " +
                   literal_text(p.values[1]);
          case scan_pred::kind::like:
            return a + (p.case_insensitive ? " ilike " : " like ") + literal_text(p.values[0]);
          case scan_pred::kind::is_null:
          case scan_pred::kind::link_null:
            return a + (p.negated ? " is not null" : " is null");
          case scan_pred::kind::compare_attrs:
            return a + " " + op_text(p.op) + " " + path_text(p.right);
        }
      }
    }
    return "?";
  }

  std::uint32_t intern(plan_node n) {
    ++requested_;
    n.key = key_of(n);
    auto it = index_.find(n.key);
    if (it != index_.end()) return it->second;
    n.label = label_of(n);
    auto id = static_cast<std::uint32_t>(nodes_.size());
    index_.emplace(n.key, id);
    nodes_.push_back(std::move(n));
    return id;
  }

  const schema& s_;
  const bound_file& f_;
  timestamp_us as_of_;
  std::vector<plan_node> nodes_;
  std::unordered_map<std::string, std::uint32_t> index_;
  std::vector<std::uint32_t> seg_node_;
  // Nodes that are some segment's root. and/or do not flatten them into their own inputs: a
  // chain of segments each using the next would otherwise copy every later segment's inputs
  // into every earlier one (quadratic plan size and evaluation time).
  std::vector<bool> is_root_;
  std::size_t requested_ = 0;
};

}  // namespace detail

/// Plans segments `selected` of `f` (indices; empty = all) and every segment they reference, as
/// one DAG with shared sub-expressions computed once. `as_of` resolves `now`. Cost: linear in
/// the size of the bound trees. Never throws for a bound file that compiled.
inline plan build_plan(const schema& s, const bound_file& f, timestamp_us as_of,
                       const std::vector<std::uint32_t>& selected = {}) {
  std::vector<bool> want(f.segments.size(), selected.empty());
  std::vector<std::uint32_t> stack(selected.begin(), selected.end());
  while (!stack.empty()) {
    std::uint32_t i = stack.back();
    stack.pop_back();
    if (want[i]) continue;
    want[i] = true;
    for (auto d : f.segments[i].depends_on) stack.push_back(d);
  }
  detail::planner p(s, f, as_of);
  std::vector<plan::root> roots;
  for (auto i : f.order)
    if (want[i]) roots.push_back({i, p.segment_root(i)});
  return p.take(std::move(roots));
}

}  // namespace b2bseg
