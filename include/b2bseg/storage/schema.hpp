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
/// holds keys of `to` (or, with `identity`, values of that identity namespace of `to`, SPEC 2.3).
/// Navigated by `name` from the source side (to-one) and by `reverse` from the target side
/// (to-many). `reverse` may be empty: then it cannot be navigated backwards. An entity with
/// sources leaves `column` empty: each source names its own.
struct link_def {
  std::string name;
  std::string column;
  std::string to;
  std::string reverse;
  std::string identity{};            ///< a namespace of `to` the column holds; empty: `to`'s key
  entity_id target = no_entity;      ///< resolved index of `to`
  std::uint32_t identity_index = 0;  ///< resolved index of `identity` in `to`'s identities
};

/// How the values of an identity namespace are compared (SPEC 2.3): `exact` as written, `email`
/// with surrounding whitespace removed and ASCII letters lower-cased.
enum class identity_rule : std::uint8_t { exact, email };

/// Identities (namespaces) an entity may have: resolving keeps a namespace in 16 bits.
inline constexpr std::size_t max_identity_namespaces = 65536;

/// An identity namespace of an entity with sources: rows sharing a value in it are one profile.
struct identity_def {
  std::string name;
  identity_rule rule = identity_rule::exact;
};

/// How the attribute and link values of a profile are chosen from its rows (SPEC 2.3).
enum class merge_policy : std::uint8_t {
  priority,  ///< sources in listed order, then latest `updated_at` first
  latest     ///< latest `updated_at` first, whatever the source
};

/// One item a source maps: the entity's identity, attribute or link `name`, read from the
/// source's CSV column `column`. For a link, `identity` names the target's namespace the column
/// holds (empty: the target's key). `index` is filled by validation: the item's index in the
/// entity's identities, attributes or links.
struct source_field {
  std::string name;
  std::string column;
  std::string identity;
  std::uint32_t index = 0;
  std::uint32_t identity_index = 0;  ///< links: resolved index of `identity` in the target's
};

/// One source of an entity with sources: a CSV file from one system (a Salesforce org, a Marketo
/// instance) mapping some of the entity's identities, attributes and links to its own columns.
struct source_def {
  std::string name;
  std::string file;
  std::vector<source_field> identities;
  std::vector<source_field> attributes;
  std::vector<source_field> links;
  std::string updated_at;  ///< column of the row's last change (a timestamp); empty: none
};

/// A reverse link that lands on an entity: `source` entity's link number `link` points here.
struct reverse_def {
  std::string name;
  entity_id source = no_entity;
  std::uint32_t link = 0;
};

/// One entity: a CSV file (or, for a resolved entity, several sources merged by identity), an
/// optional key column, attributes, links, and the reverses landing on it.
struct entity_def {
  std::string name;
  std::string file;                ///< empty for an entity with sources
  std::optional<std::string> key;  ///< CSV column of the unique external id; none: no key
  std::vector<attribute_def> attributes;
  std::vector<link_def> links;
  std::vector<reverse_def> reverses;  ///< filled by validation, in schema order of the sources
  /// SPEC 2.3: an entity with sources reads them instead of `file` and merges their rows into
  /// profiles by `identities` (in order of preference); `key` names the key column in outputs.
  std::vector<identity_def> identities;
  std::vector<source_def> sources;
  merge_policy merge = merge_policy::priority;
  std::uint32_t max_rows_per_profile = 50;

  /// True for an entity resolved from sources.
  bool resolved() const noexcept { return !sources.empty(); }
  /// Index of identity namespace `n` or -1. O(identities).
  int find_identity(std::string_view n) const noexcept {
    for (std::size_t i = 0; i < identities.size(); ++i)
      if (identities[i].name == n) return static_cast<int>(i);
    return -1;
  }

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
  /// SPEC 8: the entity whose rows (and the rows whose first links lead to them) are spread
  /// over the processes of a scale-out run; empty when none. Only a hint to a single process.
  std::string partition;

  /// Index of entity `n` or `no_entity`. O(entities).
  entity_id find_entity(std::string_view n) const noexcept {
    for (std::size_t i = 0; i < entities.size(); ++i)
      if (entities[i].name == n) return static_cast<entity_id>(i);
    return no_entity;
  }
};

}  // namespace b2bseg
