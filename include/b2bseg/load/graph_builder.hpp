// Building a graph from rows held in memory, with the same checks and indexes as a CSV load.
#pragma once

#include <algorithm>
#include <concepts>
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
  /// engine's compaction a key look-up per link value. It may also offer
  ///
  ///     const graph* values_from();                 // a graph built from earlier texts
  ///     bool unchanged(entity_id e, std::size_t i); // slot i's attribute values are those
  ///                                                 // of row i of values_from()'s e
  ///
  /// and the attribute values of those slots are then copied from that graph's columns rather
  /// than parsed from their texts (an entity whose table there has other attribute types, or
  /// none, is parsed): what spares a compaction the parse of the rows no change touched. The
  /// source vouches for them too, and the graph must stay alive until this returns.
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
      const entity_table* copied = nullptr;
      if constexpr (copies_values<Rows>) copied = same_attributes(src.values_from(), e);
      b2bseg::detail::parallel_for(std::size_t{0}, chunks.size(), [&](std::size_t c) {
        slot_reader<Rows> reader{src,
                                 e,
                                 static_cast<std::size_t>(width),
                                 c * part,
                                 std::min(slots, (c + 1) * part),
                                 known.empty() ? nullptr : known.data()};
        if (copied) reader.copy_from(*copied, def.attributes.size());
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

  /// Whether a `build_from` source may name a graph to copy unchanged slots' values from.
  template <class Rows>
  static constexpr bool copies_values = requires(const Rows& r) {
    { r.values_from() } -> std::convertible_to<const graph*>;
    { r.unchanged(entity_id{}, std::size_t{}) } -> std::convertible_to<bool>;
  };

  /// `g`'s table of entity `e` when its columns have the types of `e`'s attributes here, one
  /// for one (values can be copied from it), else nullptr.
  const entity_table* same_attributes(const graph* g, entity_id e) const {
    if (!g || e >= g->schema().entities.size()) return nullptr;
    const auto& attributes = schema_.entities[e].attributes;
    const entity_table& t = g->table(e);
    if (t.columns.size() != attributes.size()) return nullptr;
    for (std::size_t a = 0; a < attributes.size(); ++a)
      if (t.columns[a].type() != attributes[a].type || t.columns[a].size() != t.rows)
        return nullptr;
    return &t;
  }

  /// Yields slots [pos, end) of one entity of a `build_from` source as field views, skipping
  /// the slots it leaves out; line() is the 1-based slot number. `known`, one per link, is
  /// null for a source that names no parents. After `copy_from`, the attribute values of the
  /// slots the source calls unchanged are copied from a table (`copy_value`).
  template <class Rows>
  struct slot_reader {
    const Rows& src;
    entity_id e;
    std::size_t width, pos, end;
    const known_parents* known = nullptr;
    std::size_t at = 0;

    slot_reader(const Rows& s, entity_id entity, std::size_t w, std::size_t begin, std::size_t stop,
                const known_parents* k) noexcept
        : src(s), e(entity), width(w), pos(begin), end(stop), known(k), first(begin) {}

    /// Copies unchanged slots' values from `t` (their rows there are their slot numbers),
    /// which has `attributes` columns.
    void copy_from(const entity_table& t, std::size_t attributes) {
      from = &t;
      copied_end = std::min(end, t.rows);
      columns.resize(attributes);
    }
    /// Appends the value of attribute `a` of the last slot to `rc` from the table given to
    /// `copy_from`, as `detail::append_value` appends its text; false (nothing appended) when
    /// the slot's values are not copied. O(1) amortized (the first call per attribute lists
    /// the part's nulls and trues: O(part)).
    bool copy_value(std::size_t a, detail::raw_column& rc) {
      if (!copying) return false;
      const b2bseg::column& c = from->columns[a];
      copied_column& cc = columns[a];
      const auto r = static_cast<row_id>(at - 1);
      if (!cc.ready) cc.start(c, first, copied_end);
      // A nearly unique string column's values would be read from its dictionary in random
      // order, one cache miss each: its texts, laid out in row order, parse faster.
      if (cc.random_reads) return false;
      const bool null = copied_column::holds(cc.nulls, cc.next_null, r);
      switch (c.type()) {
        case value_type::integer:
        case value_type::timestamp:
          rc.ints.push_back(null ? 0 : c.ints()[r]);
          rc.flags.push_back(null);
          break;
        case value_type::floating:
          rc.floats.push_back(null ? 0 : c.floats()[r]);
          rc.flags.push_back(null);
          break;
        case value_type::boolean:
          rc.flags.push_back(null ? 2 : copied_column::holds(cc.trues, cc.next_true, r) ? 1 : 0);
          break;
        case value_type::string:
          rc.codes.push_back(null ? ~0u : cc.code(c, c.codes()[r], rc));
          break;
        case value_type::string_list:
          for (std::uint32_t k : c.list_at(r)) rc.codes.push_back(cc.code(c, k, rc));
          rc.list_offsets.push_back(static_cast<std::uint32_t>(rc.codes.size()));
          break;
      }
      return true;
    }
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
        if constexpr (copies_values<Rows>) {
          copying = from && pos < copied_end && src.unchanged(e, pos);
        }
        at = ++pos;
        return true;
      }
      return false;
    }
    std::size_t line() const noexcept { return at; }
    std::size_t column(std::size_t i) const noexcept { return i + 1; }

   private:
    /// What copying one attribute's values needs, made at its first copy.
    struct copied_column {
      bool ready = false;
      std::vector<std::uint32_t> nulls, trues;  ///< the table's, among the part's rows
      std::size_t next_null = 0, next_true = 0;
      /// The table's dictionary code -> 1 + the chunk's code (0: not interned yet), for a
      /// dictionary not much larger than a part.
      std::vector<std::uint32_t> memo;
      bool random_reads = false;  ///< a larger dictionary: the values are parsed, not copied

      void start(const b2bseg::column& c, std::size_t lo, std::size_t hi) {
        ready = true;
        if (c.type() == value_type::string || c.type() == value_type::string_list) {
          const std::size_t dictionary = c.dictionary().size();
          random_reads = dictionary > 2 * (hi - lo) + 1024;
          if (random_reads) return;
          memo.assign(dictionary, 0);
        }
        auto list = [&](const Roaring& b, std::vector<std::uint32_t>& out) {
          if (lo >= hi) return;
          const std::uint64_t below = lo ? b.rank(static_cast<std::uint32_t>(lo - 1)) : 0;
          const std::uint64_t upto = b.rank(static_cast<std::uint32_t>(hi - 1));
          out.resize(upto - below);
          if (!out.empty()) b.rangeUint32Array(out.data(), below, out.size());
        };
        list(c.nulls(), nulls);
        if (c.type() == value_type::boolean) list(c.trues(), trues);
      }
      /// Whether sorted `v` holds `r`, `i` its cursor (rows are asked in increasing order).
      static bool holds(const std::vector<std::uint32_t>& v, std::size_t& i, row_id r) {
        while (i < v.size() && v[i] < r) ++i;
        return i < v.size() && v[i] == r;
      }
      /// The chunk's code of the table's dictionary value `k` (its bytes live in the table).
      std::uint32_t code(const b2bseg::column& c, std::uint32_t k, detail::raw_column& rc) {
        std::uint32_t& m = memo[k];
        if (!m) m = rc.dict.insert(c.dictionary()[k]) + 1;
        return m - 1;
      }
    };
    std::size_t first;  ///< the part's first slot
    const entity_table* from = nullptr;
    std::size_t copied_end = 0;  ///< slots below it may be copied
    bool copying = false;        ///< the last slot's values are copied
    std::vector<copied_column> columns;
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
