// Random activation field expressions (SPEC 6) over a random graph's schema, for the tests that
// check field values against the reference evaluator and activation over processes.
#pragma once

#include <string>
#include <vector>

#include "b2bseg/storage/schema.hpp"
#include "support/random_graph.hpp"

namespace b2bseg::test_support {

/// A random condition over entity `e` (a filter of where(...)), from its attributes.
inline std::string random_condition(const schema& s, entity_id e, rng& r) {
  const auto& attrs = s.entities[e].attributes;
  if (attrs.empty() || r.chance(0.1)) return "true";
  std::string out;
  const int terms = 1 + static_cast<int>(r.below(2));
  for (int t = 0; t < terms; ++t) {
    if (t) out += r.chance(0.5) ? " and " : " or ";
    const auto& a = attrs[r.below(attrs.size())];
    const std::string name = "`" + a.name + "`";
    switch (a.type) {
      case value_type::integer:
        out += name + (r.chance(0.5) ? " >= " : " < ") + std::to_string(r.range(-5, 1000));
        break;
      case value_type::floating:
        out += name + (r.chance(0.5) ? " >= " : " <= ") + std::to_string(r.range(-10, 100000));
        break;
      case value_type::timestamp:
        out += name + " within last " + std::to_string(r.range(0, 400)) + " days";
        break;
      case value_type::boolean:
        out += r.chance(0.5) ? name : "not " + name;
        break;
      default:
        out += name + (r.chance(0.5) ? " is null" : " is not null");
    }
  }
  return out;
}

/// A random field expression over entity `e`: an attribute, a to-one path, or a count or an
/// aggregate (with or without a filter) over a relation, perhaps after a to-one hop.
inline std::string random_field(const schema& s, entity_id e, rng& r) {
  std::string prefix;
  entity_id at = e;
  if (!s.entities[at].links.empty() && r.chance(0.35)) {
    const auto& l = s.entities[at].links[r.below(s.entities[at].links.size())];
    prefix = "`" + l.name + "`.";
    at = l.target;
  }
  const auto& ed = s.entities[at];
  if (ed.reverses.empty() || r.chance(0.35)) {
    if (ed.attributes.empty()) return "";
    return prefix + "`" + ed.attributes[r.below(ed.attributes.size())].name + "`";
  }
  const auto& rv = ed.reverses[r.below(ed.reverses.size())];
  std::string text = prefix + "`" + rv.name + "`";
  if (r.chance(0.6)) text += ".where(" + random_condition(s, rv.source, r) + ")";
  std::vector<std::string> numeric;
  for (const auto& a : s.entities[rv.source].attributes)
    if (a.type == value_type::integer || a.type == value_type::floating ||
        a.type == value_type::timestamp)
      numeric.push_back(a.name);
  if (numeric.empty() || r.chance(0.3)) return text + ".count()";
  const std::string a = numeric[r.below(numeric.size())];
  const auto& def = s.entities[rv.source].attributes[s.entities[rv.source].find_attribute(a)];
  static const char* fns[] = {"sum", "avg", "min", "max"};
  std::string fn = fns[r.below(4)];
  if (def.type == value_type::timestamp && fn == "sum") fn = "avg";
  return text + "." + fn + "(`" + a + "`)";
}

}  // namespace b2bseg::test_support
