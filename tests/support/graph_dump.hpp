// Test helper: a canonical text dump of a graph (sorted rows, links by key), so that two graphs
// built from the same data in different row or column order compare equal.
#pragma once

#include <algorithm>
#include <string>
#include <vector>

#include "b2bseg/b2bseg.hpp"

namespace b2bseg::testing {

/// One line per row: entity, key, every attribute as text, every link as the target's key.
inline std::string value_text(const graph& g, entity_id e, std::uint32_t a, row_id r) {
  const column& c = g.attribute(e, a);
  if (c.is_null(r)) return "NULL";
  switch (c.type()) {
    case value_type::integer:
      return std::to_string(c.ints()[r]);
    case value_type::timestamp:
      return format_timestamp(c.ints()[r]);
    case value_type::floating:
      return std::to_string(c.floats()[r]);
    case value_type::boolean:
      return c.bool_at(r) ? "true" : "false";
    case value_type::string:
      return "'" + std::string(c.string_at(r)) + "'";
    case value_type::string_list: {
      std::string s = "[";
      for (auto code : c.list_at(r)) s += std::string(c.dictionary()[code]) + "|";
      return s + "]";
    }
  }
  return "?";
}

inline std::string row_text(const graph& g, entity_id e, row_id r) {
  const auto& def = g.schema().entities[e];
  std::string line = def.name + " " + std::string(g.key(e, r));
  for (std::uint32_t a = 0; a < def.attributes.size(); ++a)
    line += " " + def.attributes[a].name + "=" + value_text(g, e, a, r);
  for (std::uint32_t l = 0; l < def.links.size(); ++l) {
    row_id p = g.link(e, l).parent(r);
    line += " " + def.links[l].name + "->" +
            (p == no_row ? std::string("NULL") : std::string(g.key(def.links[l].target, p)));
  }
  return line;
}

inline std::string dump(const graph& g) {
  std::vector<std::string> lines;
  for (entity_id e = 0; e < g.entity_count(); ++e)
    for (row_id r = 0; r < g.rows(e); ++r) lines.push_back(row_text(g, e, r));
  std::sort(lines.begin(), lines.end());
  std::string out;
  for (auto& l : lines) out += l + "\n";
  return out;
}

}  // namespace b2bseg::testing
