// The in-memory graph: one table per entity (keys, attribute columns, links) under a schema.
#pragma once

#include <cstdint>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include "b2bseg/common/mapped_file.hpp"
#include "b2bseg/storage/column.hpp"
#include "b2bseg/storage/key_index.hpp"
#include "b2bseg/storage/link_index.hpp"
#include "b2bseg/storage/schema.hpp"

namespace b2bseg {

/// The rows of one entity. Row ids are dense, 0..size()-1, in the order HACKING.md describes
/// (clustered by the entity's first link to another entity, then by key).
struct entity_table {
  std::size_t rows = 0;
  bool has_key = false;
  key_index keys;                 ///< empty when the entity has no key
  std::vector<column> columns;    ///< one per schema attribute, same order
  std::vector<link_index> links;  ///< one per schema link, same order

  std::size_t memory_bytes() const noexcept {
    std::size_t b = has_key ? keys.memory_bytes() : 0;
    for (const auto& c : columns) b += c.memory_bytes();
    for (const auto& l : links) b += l.memory_bytes();
    return b;
  }
};

/// Memory used by one structure of the graph, for `b2bseg stats`.
struct memory_item {
  std::string entity;
  std::string structure;  ///< "keys", "attribute <name>", "link <name>"
  std::size_t bytes = 0;
};

/// A loaded, fully indexed, immutable graph. Safe to read from any number of threads.
/// Owns everything it references (a graph opened from a snapshot shares the file's mapping among
/// its arrays). Built by `load_dataset()`, `graph_builder` or `open_snapshot()`.
class graph {
 public:
  graph() = default;
  graph(b2bseg::schema s, std::vector<entity_table> tables)
      : schema_(std::move(s)), tables_(std::move(tables)) {}

  const b2bseg::schema& schema() const noexcept { return schema_; }
  /// The same tables under schema `s`, which must describe them: the same entities, keys,
  /// attributes (names, types) and links (names, targets) in the same order; only how files
  /// map onto them may differ (a live dataset's rows are built under a schema without sources,
  /// and given back the dataset's own). Throws std::logic_error otherwise. O(schema).
  graph with_schema(b2bseg::schema s) && {
    bool same = s.entities.size() == schema_.entities.size();
    for (std::size_t e = 0; same && e < s.entities.size(); ++e) {
      const auto &a = s.entities[e], &b = schema_.entities[e];
      same = a.name == b.name && a.key.has_value() == b.key.has_value() &&
             a.attributes.size() == b.attributes.size() && a.links.size() == b.links.size();
      for (std::size_t i = 0; same && i < a.attributes.size(); ++i)
        same = a.attributes[i].name == b.attributes[i].name &&
               a.attributes[i].type == b.attributes[i].type;
      for (std::size_t i = 0; same && i < a.links.size(); ++i)
        same = a.links[i].name == b.links[i].name && a.links[i].target == b.links[i].target;
    }
    if (!same) throw std::logic_error("graph::with_schema: the schema does not describe the graph");
    graph out(std::move(s), std::move(tables_));
    out.mapping_ = std::move(mapping_);
    out.sources_ = std::move(sources_);
    return out;
  }
  std::size_t entity_count() const noexcept { return tables_.size(); }
  const entity_table& table(entity_id e) const noexcept { return tables_[e]; }
  std::size_t rows(entity_id e) const noexcept { return tables_[e].rows; }
  const column& attribute(entity_id e, std::uint32_t a) const noexcept {
    return tables_[e].columns[a];
  }
  const link_index& link(entity_id e, std::uint32_t l) const noexcept {
    return tables_[e].links[l];
  }
  /// The snapshot file this graph's arrays view, or null for a graph built in memory.
  const std::shared_ptr<const mapped_file>& mapping() const noexcept { return mapping_; }
  void set_mapping(std::shared_ptr<const mapped_file> m) noexcept { mapping_ = std::move(m); }
  /// True when the snapshot file behind this graph shrank or was rewritten since it was opened
  /// (reads of vanished pages then returned zeros: results computed since are not to be trusted).
  /// Always false for a graph built in memory. O(1): one fstat.
  bool mapping_changed() const noexcept { return mapping_ && mapping_->changed(); }

  /// What a snapshot of a dataset with sources (SPEC 2.3) carries besides the graph: the source
  /// rows and the link values by identity that changes need (`live_rows` writes and reads these
  /// bytes; the graph only holds them), and where they came from, for errors ("FILE (section
  /// 'source rows')"). Null for a graph loaded from a folder or built in memory.
  struct saved_sources {
    std::string bytes;
    std::string origin;
  };
  const std::shared_ptr<const saved_sources>& sources() const noexcept { return sources_; }
  void set_sources(std::shared_ptr<const saved_sources> s) noexcept { sources_ = std::move(s); }

  /// The external key of row r of entity e (empty view when the entity has no key).
  std::string_view key(entity_id e, row_id r) const noexcept {
    return tables_[e].has_key ? tables_[e].keys.key(r) : std::string_view{};
  }
  /// The row of key k in entity e, or `no_row`. O(1) expected.
  row_id find_key(entity_id e, std::string_view k) const noexcept {
    return tables_[e].keys.find(k);
  }

  /// Bytes used, per entity and structure.
  std::vector<memory_item> memory_report() const {
    std::vector<memory_item> out;
    for (entity_id e = 0; e < tables_.size(); ++e) {
      const auto& def = schema_.entities[e];
      const auto& t = tables_[e];
      if (t.has_key) out.push_back({def.name, "keys", t.keys.memory_bytes()});
      for (std::size_t a = 0; a < t.columns.size(); ++a)
        out.push_back(
            {def.name, "attribute " + def.attributes[a].name, t.columns[a].memory_bytes()});
      for (std::size_t l = 0; l < t.links.size(); ++l)
        out.push_back({def.name, "link " + def.links[l].name, t.links[l].memory_bytes()});
    }
    return out;
  }
  std::size_t memory_bytes() const noexcept {
    std::size_t b = 0;
    for (const auto& t : tables_) b += t.memory_bytes();
    return b;
  }

  /// Checks every invariant of every index and adjacency. O(total rows). Throws std::logic_error
  /// naming the entity and structure that is broken.
  void validate() const {
    if (tables_.size() != schema_.entities.size()) throw std::logic_error("graph: table count");
    for (entity_id e = 0; e < tables_.size(); ++e) {
      const auto& def = schema_.entities[e];
      const auto& t = tables_[e];
      auto where = [&](const std::string& what) { return def.name + " " + what + ": "; };
      try {
        if (t.has_key != def.key.has_value()) throw std::logic_error("key presence");
        if (t.has_key) {
          if (t.keys.size() != t.rows) throw std::logic_error("key count");
          t.keys.validate();
        }
      } catch (const std::logic_error& x) {
        throw std::logic_error(where("keys") + x.what());
      }
      if (t.columns.size() != def.attributes.size())
        throw std::logic_error(where("columns") + "count");
      for (std::size_t a = 0; a < t.columns.size(); ++a) {
        try {
          if (t.columns[a].size() != t.rows) throw std::logic_error("row count");
          if (t.columns[a].type() != def.attributes[a].type) throw std::logic_error("type");
          t.columns[a].validate();
        } catch (const std::logic_error& x) {
          throw std::logic_error(where("attribute " + def.attributes[a].name) + x.what());
        }
      }
      if (t.links.size() != def.links.size()) throw std::logic_error(where("links") + "count");
      for (std::size_t l = 0; l < t.links.size(); ++l) {
        try {
          if (t.links[l].source_rows() != t.rows) throw std::logic_error("row count");
          if (t.links[l].target_rows() != tables_[def.links[l].target].rows)
            throw std::logic_error("target row count");
          t.links[l].validate();
        } catch (const std::logic_error& x) {
          throw std::logic_error(where("link " + def.links[l].name) + x.what());
        }
      }
    }
  }

 private:
  b2bseg::schema schema_;
  std::vector<entity_table> tables_;
  std::shared_ptr<const mapped_file> mapping_;
  std::shared_ptr<const saved_sources> sources_;
};

}  // namespace b2bseg
