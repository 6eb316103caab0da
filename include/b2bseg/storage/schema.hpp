// The dataset schema (SPEC 2.1): entities, their attributes, links and the reverses of links.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "b2bseg/common/types.hpp"

namespace b2bseg {

/// Index of an entity within `schema::entities`.
using entity_id = std::uint32_t;
inline constexpr entity_id no_entity = ~entity_id{0};

/// An attribute: a typed value read from the CSV column `column` (by default, its own name).
struct attribute_def {
  std::string name;
  value_type type = value_type::string;
  std::string column;
};

/// A many-to-one link from the owning entity to entity `to`, read from CSV column `column` that
/// holds keys of `to`. Navigated by `name` from the source side (to-one) and by `reverse` from the
/// target side (to-many). `reverse` may be empty: then it cannot be navigated backwards.
struct link_def {
  std::string name;
  std::string column;
  std::string to;
  std::string reverse;
  entity_id target = no_entity;  ///< resolved index of `to`
};

/// A reverse link that lands on an entity: `source` entity's link number `link` points here.
struct reverse_def {
  std::string name;
  entity_id source = no_entity;
  std::uint32_t link = 0;
};

/// One entity: a CSV file, an optional key column, attributes, links, and the reverses landing on
/// it.
struct entity_def {
  std::string name;
  std::string file;
  std::optional<std::string> key;  ///< CSV column of the unique external id; none: no key
  std::vector<attribute_def> attributes;
  std::vector<link_def> links;
  std::vector<reverse_def> reverses;  ///< filled by validation, in schema order of the sources

  /// Index of attribute `n` or -1. O(attributes).
  int find_attribute(std::string_view n) const noexcept {
    for (std::size_t i = 0; i < attributes.size(); ++i)
      if (attributes[i].name == n) return static_cast<int>(i);
    return -1;
  }
  /// Index of link `n` or -1. O(links).
  int find_link(std::string_view n) const noexcept {
    for (std::size_t i = 0; i < links.size(); ++i)
      if (links[i].name == n) return static_cast<int>(i);
    return -1;
  }
  /// Index of reverse `n` or -1. O(reverses).
  int find_reverse(std::string_view n) const noexcept {
    for (std::size_t i = 0; i < reverses.size(); ++i)
      if (reverses[i].name == n) return static_cast<int>(i);
    return -1;
  }
};

/// A whole schema. Entities keep the order of the schema file.
struct schema {
  std::vector<entity_def> entities;

  /// Index of entity `n` or `no_entity`. O(entities).
  entity_id find_entity(std::string_view n) const noexcept {
    for (std::size_t i = 0; i < entities.size(); ++i)
      if (entities[i].name == n) return static_cast<entity_id>(i);
    return no_entity;
  }
};

}  // namespace b2bseg
