// Building a graph from rows held in memory, with the same checks and indexes as a CSV load.
#pragma once

#include <initializer_list>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "b2bseg/exec/parallel.hpp"
#include "b2bseg/load/load_report.hpp"
#include "b2bseg/load/table_builder.hpp"
#include "b2bseg/storage/graph.hpp"
#include "b2bseg/storage/schema_json.hpp"

namespace b2bseg {

/// Collects rows in memory and builds a graph from them: the library's way to make a graph
/// without CSV files. Values are given in their SPEC 2.2 text forms ("42", "true",
/// "2026-11-22T10:00:00Z", "ai|cloud"); an absent or empty value is null.
///
///     b2bseg::graph_builder b(my_schema);
///     b.add_row("account", {{"account_id", "A1"}, {"industry", "Software"}});
///     b.add_row("person", {{"person_id", "P1"}, {"account_id", "A1"}});
///     b2bseg::graph g = b.build();
class graph_builder {
 public:
  /// Validates `s` (see `validate_schema`). Throws data_error for a bad schema, or for one with an
  /// entity with sources (SPEC 2.3), which only `load_dataset` resolves.
  explicit graph_builder(b2bseg::schema s) : schema_(std::move(s)) {
    validate_schema(schema_, "schema");
    for (const auto& def : schema_.entities)
      if (def.resolved() || !def.identities.empty())
        throw data_error("schema: entity '" + def.name +
                         "' has sources: graph_builder builds plain entities only; load a "
                         "dataset folder with load_dataset to resolve sources");
    rows_.resize(schema_.entities.size());
    columns_.resize(schema_.entities.size());
    for (entity_id e = 0; e < schema_.entities.size(); ++e) {
      const auto& def = schema_.entities[e];
      auto add = [&](const std::string& c) {
        if (std::find(columns_[e].begin(), columns_[e].end(), c) == columns_[e].end())
          columns_[e].push_back(c);
      };
      if (def.key) add(*def.key);
      for (const auto& a : def.attributes) add(a.column);
      for (const auto& l : def.links) add(l.column);
    }
  }

  const b2bseg::schema& schema() const noexcept { return schema_; }

  /// Appends a row of `entity`: (column, value) pairs, columns named as in the CSV (the key
  /// column, attribute columns, link columns). Throws data_error for an unknown entity or
  /// column. Copies the strings. O(fields).
  graph_builder& add_row(
      std::string_view entity,
      std::initializer_list<std::pair<std::string_view, std::string_view>> fields) {
    return add_row_impl(entity, fields.begin(), fields.end());
  }
  /// Same, from a vector.
  graph_builder& add_row(std::string_view entity,
                         const std::vector<std::pair<std::string, std::string>>& fields) {
    return add_row_impl(entity, fields.begin(), fields.end());
  }

  /// Builds the graph: the same checks and indexes as `load_dataset`; in errors the file is
  /// "<entity> rows", the line the 1-based row number and the column the 1-based column number
  /// among the entity's schema columns. Leaves the builder empty. Throws data_error.
  graph build(const load_options& opts = {}, load_report* report = nullptr) {
    struct own_rows {
      const graph_builder& b;
      std::size_t rows(entity_id e) const noexcept { return b.rows_[e].size(); }
      const std::string* fields(entity_id e, std::size_t i) const noexcept {
        return b.rows_[e][i].data();
      }
      int column(entity_id e, const std::string& name) const { return b.index_of(e, name); }
    };
    graph g = build_from(own_rows{*this}, opts, report);
    for (auto& r : rows_) r.clear();
    return g;
  }

  /// Builds a graph of this builder's schema from rows the caller holds, read in place (no
  /// copy of their texts), each entity's rows parsed on all cores in parts: what the live
  /// engine's compaction builds from its row store. `Rows` offers
  ///
  ///     std::size_t rows(entity_id e);                       // row slots of e
  ///     const std::string* fields(entity_id e, std::size_t i);  // slot i's texts, or nullptr
  ///                                                          // to leave the slot out
  ///     int column(entity_id e, const std::string& name);    // where a schema column's text
  ///                                                          // is among a row's texts
  ///
  /// and may offer
  ///
  ///     std::span<const row_id> parents(entity_id e, std::uint32_t l);  // per slot of e, the
  ///                                          // slot of l's target its value is the key of
  ///
  /// (`no_row`, a slot past the span or a slot left out: not known, the key is looked up). The
  /// source vouches for the slots it names, which are not checked: what spares the live
  /// engine's compaction a key look-up per link value.
  ///
  /// Texts as `add_row` takes them, alive until this returns. Errors as `build` says, the line
  /// being the 1-based slot number. Ignores the rows added with `add_row`. `numbering`, when
  /// given, receives per entity, for each row of the graph, the slot it was built from.
  /// Throws data_error.
  template <class Rows>
  graph build_from(const Rows& src, const load_options& opts = {}, load_report* report = nullptr,
                   std::vector<std::vector<std::uint32_t>>* numbering = nullptr) const {
    load_report local;
    load_report& rep = report ? *report : local;
    std::vector<entity_table> tables(schema_.entities.size());
    std::vector<bool> built(schema_.entities.size(), false);
    std::vector<detail::deferred_link> deferred;
    // Whether the source names any parent (a source type may offer `parents` and name none).
    constexpr bool offers_parents = requires(const Rows& r) {
      r.parents(entity_id{}, 0u);
    };
    bool knows_parents = false;
    if constexpr (offers_parents) {
      for (entity_id e = 0; e < schema_.entities.size(); ++e)
        for (std::uint32_t l = 0; l < schema_.entities[e].links.size(); ++l)
          knows_parents = knows_parents || !src.parents(e, l).empty();
    }
    std::vector<std::vector<std::uint32_t>> local_numbering;
    if (knows_parents && !numbering) numbering = &local_numbering;
    if (numbering) numbering->assign(schema_.entities.size(), {});
    // Per entity built, for each of its slots, the row of the graph made from it (or no_row):
    // what turns a slot the source names into a row of the target's table.
    std::vector<std::vector<row_id>> row_of_slot(knows_parents ? schema_.entities.size() : 0);
    for (entity_id e : detail::build_order(schema_)) {
      const auto& def = schema_.entities[e];
      detail::field_map fm;
      int width = 0;
      auto idx = [&](const std::string& c) {
        const int i = src.column(e, c);
        if (i < 0) throw data_error(def.name + " rows: no column '" + c + "'");
        width = std::max(width, i + 1);
        return i;
      };
      if (def.key) fm.key = idx(*def.key);
      for (const auto& a : def.attributes) fm.attributes.push_back(idx(a.column));
      for (const auto& l : def.links) fm.links.push_back(idx(l.column));
      // Parts of 64Ki slots, parsed in parallel into chunks kept in slot order (so the rows
      // and their ids are those of one pass).
      constexpr std::size_t part = std::size_t{1} << 16;
      const std::size_t slots = src.rows(e);
      std::vector<detail::raw_chunk> chunks(std::max<std::size_t>(1, (slots + part - 1) / part));
      const auto targets = detail::link_targets(schema_, e, tables, built);
      const std::string file = def.name + " rows";
      std::vector<known_parents> known;
      if constexpr (offers_parents) {
        for (std::uint32_t l = 0; knows_parents && l < def.links.size(); ++l) {
          if (targets[l])
            known.push_back({src.parents(e, l), row_of_slot[def.links[l].target]});
          else
            known.push_back({});
        }
      }
      b2bseg::detail::parallel_for(std::size_t{0}, chunks.size(), [&](std::size_t c) {
        slot_reader<Rows> reader{src,
                                 e,
                                 static_cast<std::size_t>(width),
                                 c * part,
                                 std::min(slots, (c + 1) * part),
                                 known.empty() ? nullptr : known.data()};
        detail::parse_records(reader, def, fm, nullptr, nullptr, file, opts.lenient, targets, {},
                              chunks[c]);
      });
      tables[e] = detail::build_table(schema_, e, chunks, file, tables, built, opts.lenient, rep,
                                      deferred, false, numbering ? &(*numbering)[e] : nullptr);
      if (numbering) {
        // build_table numbers the records read; slots left out made none.
        std::vector<std::uint32_t> slot_of;
        for (std::size_t i = 0; i < slots; ++i)
          if (src.fields(e, i)) slot_of.push_back(static_cast<std::uint32_t>(i));
        if (slot_of.size() < slots)
          for (std::uint32_t& x : (*numbering)[e]) x = slot_of[x];
        if (knows_parents) {
          row_of_slot[e].assign(slots, no_row);
          const auto& num = (*numbering)[e];
          for (std::size_t r = 0; r < num.size(); ++r)
            row_of_slot[e][num[r]] = static_cast<row_id>(r);
        }
      }
      built[e] = true;
      rep.entities.push_back({def.name, file, tables[e].rows, 0, 0, 0});
    }
    for (auto& d : deferred) detail::resolve_deferred(schema_, d, tables, opts.lenient, rep);
    return graph(schema_, std::move(tables));
  }

 private:
  /// What a `build_from` source says of one link's values: per slot, the target's slot
  /// (`parents`), and per target slot, its row in the graph (`rows`). Empty: nothing known.
  struct known_parents {
    std::span<const row_id> parents;
    std::span<const row_id> rows;
  };

  /// Yields slots [pos, end) of one entity of a `build_from` source as field views, skipping
  /// the slots it leaves out; line() is the 1-based slot number. `known`, one per link, is
  /// null for a source that names no parents.
  template <class Rows>
  struct slot_reader {
    const Rows& src;
    entity_id e;
    std::size_t width, pos, end;
    const known_parents* known = nullptr;
    std::size_t at = 0;
    /// The row of the target of link `l` that the last record's value names, or no_row when
    /// the source does not say (the key is looked up then).
    row_id parent(std::size_t l) const noexcept {
      if (!known) return no_row;
      const known_parents& k = known[l];
      const std::size_t slot = at - 1;
      if (slot >= k.parents.size()) return no_row;
      const row_id p = k.parents[slot];
      return p < k.rows.size() ? k.rows[p] : no_row;
    }
    bool next(std::vector<std::string_view>& f) {
      for (; pos < end; ++pos) {
        const std::string* row = src.fields(e, pos);
        if (!row) continue;
        f.assign(row, row + width);
        at = ++pos;
        return true;
      }
      return false;
    }
    std::size_t line() const noexcept { return at; }
    std::size_t column(std::size_t i) const noexcept { return i + 1; }
  };

  int index_of(entity_id e, const std::string& c) const {
    return int(std::find(columns_[e].begin(), columns_[e].end(), c) - columns_[e].begin());
  }

  template <class It>
  graph_builder& add_row_impl(std::string_view entity, It begin, It end) {
    entity_id e = schema_.find_entity(entity);
    if (e == no_entity) throw data_error("unknown entity '" + std::string(entity) + "'");
    std::vector<std::string> row(columns_[e].size());
    for (It it = begin; it != end; ++it) {
      auto pos = std::find(columns_[e].begin(), columns_[e].end(), std::string_view(it->first));
      if (pos == columns_[e].end())
        throw data_error("entity '" + std::string(entity) + "' has no column '" +
                         std::string(it->first) + "'");
      row[pos - columns_[e].begin()] = std::string(it->second);
    }
    rows_[e].push_back(std::move(row));
    return *this;
  }

  b2bseg::schema schema_;
  std::vector<std::vector<std::string>> columns_;
  std::vector<std::vector<std::vector<std::string>>> rows_;
};

}  // namespace b2bseg
