// libFuzzer target: arbitrary text compiled as a segments file against a fixed B2B schema.
//
// compile_error is an expected outcome; crashes, hangs and broken invariants are findings. A
// file that compiles must give a well-formed bound tree (valid indices, contexts that follow the
// relations, bounded depth) and a topological order; a file that does not must give between 1
// and 101 diagnostics, each pointing into its source line.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "b2bseg/lang/compile.hpp"
#include "b2bseg/storage/schema_json.hpp"

namespace {

const b2bseg::schema& fuzz_schema() {
  static const b2bseg::schema s = b2bseg::parse_schema(R"({
  "entities": {
    "account": {
      "file": "account.csv", "key": "account_id",
      "attributes": { "name": "string", "industry": "string", "employees": "int",
                      "annual_revenue": "float", "is_customer": "bool",
                      "created_at": "timestamp", "tags": "string[]" },
      "links": { "parent": { "column": "parent_id", "to": "account", "reverse": "subsidiaries" } }
    },
    "person": {
      "file": "person.csv", "key": "person_id",
      "attributes": { "email": "string", "seniority": "string", "last": "string",
                      "score": "float", "is_subscribed": "bool", "created_at": "timestamp" },
      "links": { "account": { "column": "account_id", "to": "account", "reverse": "people" } }
    },
    "opportunity": {
      "file": "opportunity.csv", "key": "opportunity_id",
      "attributes": { "name": "string", "amount": "float", "is_closed": "bool",
                      "close_date": "timestamp", "budgeted_cost": "int" },
      "links": { "account": { "column": "account_id", "to": "account",
                              "reverse": "opportunities" } }
    },
    "opportunity_role": {
      "file": "opportunity_role.csv", "key": "role_id",
      "attributes": { "role": "string" },
      "links": {
        "opportunity": { "column": "opportunity_id", "to": "opportunity", "reverse": "roles" },
        "person": { "column": "person_id", "to": "person", "reverse": "opportunity_roles" }
      }
    },
    "event": {
      "file": "event.csv",
      "attributes": { "type": "string", "timestamp": "timestamp", "count": "int" },
      "links": { "person": { "column": "person_id", "to": "person", "reverse": "events" } }
    }
  }
})",
                                                       "fuzz_schema.json");
  return s;
}

void check_attr(const b2bseg::schema& s, b2bseg::entity_id from, const b2bseg::attr_ref& a,
                bool has_attribute) {
  b2bseg::entity_id e = from;
  for (const b2bseg::link_hop& h : a.path) {
    if (h.from != e || h.link >= s.entities[e].links.size()) __builtin_trap();
    e = s.entities[e].links[h.link].target;
  }
  if (e != a.entity) __builtin_trap();
  if (has_attribute && (a.attribute >= s.entities[e].attributes.size() ||
                        s.entities[e].attributes[a.attribute].type != a.type))
    __builtin_trap();
}

void check_expr(const b2bseg::schema& s, const b2bseg::bound_file& f, const b2bseg::bound_expr& x,
                int depth) {
  using k = b2bseg::bound_expr::kind;
  if (depth > 1000 || x.context >= s.entities.size()) __builtin_trap();
  b2bseg::entity_id child_context = x.context;
  switch (x.k) {
    case k::compare:
    case k::in_list:
    case k::between:
      if (x.bucket) {  // bucket("SALT", N): the context's own key
        if (!s.entities[x.context].key || x.bucket->n < 1 || x.bucket->n > (1ull << 31) ||
            !x.attr.path.empty())
          __builtin_trap();
        break;
      }
      check_attr(s, x.context, x.attr, true);
      break;
    case k::like:
    case k::is_null:
      check_attr(s, x.context, x.attr, true);
      break;
    case k::compare_attrs:
      check_attr(s, x.context, x.attr, true);
      check_attr(s, x.context, x.attr2, true);
      break;
    case k::link_is_null:
      if (x.attr.path.empty()) __builtin_trap();
      check_attr(s, x.context, x.attr, false);
      break;
    case k::in_segment:
      check_attr(s, x.context, x.attr, false);
      if (x.segment >= f.segments.size() || f.segments[x.segment].entity != x.attr.entity)
        __builtin_trap();
      break;
    case k::quantified:
    case k::count:
    case k::aggregate: {
      b2bseg::attr_ref hops;
      hops.path = x.rel.path;
      hops.entity = x.rel.owner;
      check_attr(s, x.context, hops, false);
      const auto& reverses = s.entities[x.rel.owner].reverses;
      if (x.rel.reverse >= reverses.size() || reverses[x.rel.reverse].source != x.rel.source ||
          reverses[x.rel.reverse].link != x.rel.link)
        __builtin_trap();
      child_context = x.rel.source;
      if (x.k == k::aggregate) check_attr(s, x.rel.source, x.attr, true);
      if (x.children.size() > 1) __builtin_trap();
      break;
    }
    case k::sequence: {
      b2bseg::attr_ref hops;
      hops.path = x.rel.path;
      hops.entity = x.rel.owner;
      check_attr(s, x.context, hops, false);
      child_context = x.rel.source;
      check_attr(s, x.rel.source, x.attr, true);
      if (x.attr.type != b2bseg::value_type::timestamp || x.children.empty()) __builtin_trap();
      break;
    }
    case k::top:
      if (!s.entities[x.context].key || x.top_n < 1 || x.order.empty() || x.children.size() > 1 ||
          x.per_link >= static_cast<int>(s.entities[x.context].links.size()))
        __builtin_trap();
      for (const auto& o : x.order)
        if (o.attribute >= s.entities[x.context].attributes.size()) __builtin_trap();
      break;
    case k::not_:
      if (x.children.size() != 1) __builtin_trap();
      break;
    case k::and_:
    case k::or_:
      if (x.children.size() < 2) __builtin_trap();
      break;
    case k::constant:
      break;
  }
  for (const auto& c : x.children) {
    if (!c || c->context != child_context) __builtin_trap();
    check_expr(s, f, *c, depth + 1);
  }
}

void check_file(const b2bseg::schema& s, const b2bseg::bound_file& f) {
  const std::size_t n = f.segments.size();
  if (f.order.size() != n) __builtin_trap();
  std::vector<std::size_t> at(n, n);
  for (std::size_t i = 0; i < n; ++i) {
    if (f.order[i] >= n || at[f.order[i]] != n) __builtin_trap();
    at[f.order[i]] = i;
  }
  for (std::size_t i = 0; i < n; ++i) {
    const b2bseg::bound_segment& seg = f.segments[i];
    if (seg.entity >= s.entities.size() || !s.entities[seg.entity].key || !seg.where)
      __builtin_trap();
    if (seg.where->context != seg.entity || f.find(seg.name) != static_cast<int>(i))
      __builtin_trap();
    for (std::uint32_t d : seg.depends_on)
      if (d >= n || at[d] >= at[i]) __builtin_trap();
    check_expr(s, f, *seg.where, 0);
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  const b2bseg::schema& s = fuzz_schema();
  try {
    const b2bseg::bound_file f = b2bseg::compile_segments(text, s, "fuzz.seg");
    check_file(s, f);
  } catch (const b2bseg::compile_error& e) {
    const auto& ds = e.diagnostics();
    if (ds.empty() || ds.size() > 101 || std::string_view(e.what()).empty()) __builtin_trap();
    for (const b2bseg::diagnostic& d : ds)
      if (d.line == 0 || d.column == 0 || d.column > d.source_line.size() + 2 ||
          d.message.empty() || d.file != "fuzz.seg")
        __builtin_trap();
    // Rendered messages print whole: control bytes escaped (tabs and line breaks of the layout
    // aside), so no NUL cuts off the later diagnostics.
    for (const char c : std::string_view(e.what()))
      if (static_cast<unsigned char>(c) < 0x20 && c != '\n' && c != '\t') __builtin_trap();
  }
  return 0;
}
