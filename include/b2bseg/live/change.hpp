// Changes to a loaded dataset (SPEC 2.4), typed and checked, and the row layout they address.
#pragma once

#include <algorithm>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "b2bseg/common/error.hpp"
#include "b2bseg/common/types.hpp"
#include "b2bseg/storage/schema.hpp"

namespace b2bseg {

/// The CSV columns of each entity as a change row names them: the key column, then the attribute
/// columns, then the link columns, each once (a column read by two schema entries is one field).
/// The same layout as `graph_builder`'s, so a row of texts in it builds with `graph_builder`.
struct row_layout {
  /// CSV column names, each once, in the order they were added.
  struct column_names {
    std::vector<std::string> names;

    /// Index of CSV column `name`, or -1. O(columns).
    int find(std::string_view name) const noexcept {
      for (std::size_t i = 0; i < names.size(); ++i)
        if (names[i] == name) return static_cast<int>(i);
      return -1;
    }
    /// Index of column `name`, added when new: a column read by two schema entries is one
    /// field. O(columns).
    std::uint32_t add(const std::string& name) {
      const int i = find(name);
      if (i >= 0) return static_cast<std::uint32_t>(i);
      names.push_back(name);
      return static_cast<std::uint32_t>(names.size() - 1);
    }
  };

  struct entity_columns : column_names {
    int key = -1;                                 ///< index of the key column; -1: no key
    std::vector<std::uint32_t> attribute_column;  ///< per attribute: its column's index
    std::vector<std::uint32_t> link_column;       ///< per link: its column's index

    /// The CSV columns of one source of an entity with sources (SPEC 2.3): what a change naming
    /// that source addresses. A column may feed several slots (an identity and an attribute read
    /// from one `Email` column).
    struct source_columns : column_names {
      std::vector<std::uint32_t> identity_column;   ///< per identity the source maps
      std::vector<std::uint32_t> attribute_column;  ///< per attribute the source maps
      std::vector<std::uint32_t> link_column;       ///< per link the source maps
      int updated_at = -1;                          ///< the `updated_at` column; -1: none
    };
    std::vector<source_columns> sources;  ///< an entity with sources: per source, in order
  };
  std::vector<entity_columns> entities;  ///< per entity of the schema, in schema order

  /// Lays out every entity of `s`. O(columns squared) per entity.
  explicit row_layout(const schema& s) {
    entities.resize(s.entities.size());
    for (std::size_t e = 0; e < s.entities.size(); ++e) {
      const auto& def = s.entities[e];
      auto& ec = entities[e];
      if (def.key) ec.key = static_cast<int>(ec.add(*def.key));
      for (const auto& a : def.attributes) ec.attribute_column.push_back(ec.add(a.column));
      for (const auto& l : def.links) ec.link_column.push_back(ec.add(l.column));
      for (const auto& src : def.sources) {
        auto& sc = ec.sources.emplace_back();
        for (const auto& x : src.identities) sc.identity_column.push_back(sc.add(x.column));
        for (const auto& x : src.attributes) sc.attribute_column.push_back(sc.add(x.column));
        for (const auto& x : src.links) sc.link_column.push_back(sc.add(x.column));
        if (!src.updated_at.empty()) sc.updated_at = static_cast<int>(sc.add(src.updated_at));
      }
    }
  }
};

namespace detail::live {

/// `v` in double quotes for a message, cut after 64 bytes.
inline std::string quoted(std::string_view v) {
  std::string s = "\"";
  s.append(v.substr(0, 64));
  if (v.size() > 64) s += "...";
  return s + "\"";
}

}  // namespace detail::live

/// What a change line asks for (SPEC 2.4).
enum class change_op : std::uint8_t { upsert, insert, erase, tick, commit };

/// The op's word in a feed: "upsert", "insert", "delete", "tick", "commit".
inline std::string_view op_word(change_op op) noexcept {
  switch (op) {
    case change_op::upsert:
      return "upsert";
    case change_op::insert:
      return "insert";
    case change_op::erase:
      return "delete";
    case change_op::tick:
      return "tick";
    case change_op::commit:
      return "commit";
  }
  return "?";
}

/// One field a row change sets: a column of the entity's `row_layout` (of the source's columns
/// for a change naming a source) and its value in the CSV text form (already checked against the
/// column's types); an empty value is null.
struct field_value {
  std::uint32_t column = 0;
  std::string value;
};

/// One parsed change. `line` is its 1-based line in the feed (0 when it came from no feed).
struct change {
  change_op op = change_op::commit;
  std::size_t line = 0;
  entity_id entity = no_entity;  ///< upsert, insert, delete
  /// An entity with sources: the index of the source the change names (its row is a source
  /// row, found by its identities); ~0u for a plain entity.
  std::uint32_t source = ~0u;
  std::string key;                  ///< upsert (the row's key field), delete (plain entity)
  std::vector<field_value> fields;  ///< upsert, insert: the fields given, in feed order
  timestamp_us now = 0;             ///< tick
};

/// Why a change was refused: the feed line and a message naming the field.
struct change_error {
  std::size_t line = 0;
  std::string message;

  /// `FEED:LINE: error: MESSAGE` (control characters escaped), as SPEC 4 prints it.
  std::string render(std::string_view feed) const {
    return detail::escape_controls(std::string(feed) + ":" + std::to_string(line) +
                                   ": error: " + message);
  }
};

}  // namespace b2bseg
