// The current rows of a live dataset, in CSV text form, changed one checked change at a time
// with an undo log, and rebuilt into an indexed graph after each batch.
#pragma once

#include <charconv>
#include <functional>
#include <string>
#include <unordered_map>
#include <vector>

#include "b2bseg/common/parse.hpp"
#include "b2bseg/live/change.hpp"
#include "b2bseg/load/graph_builder.hpp"
#include "b2bseg/storage/graph.hpp"
#include "b2bseg/storage/key_index.hpp"

namespace b2bseg {

namespace detail::live {

/// Rows by key for a table that changes: open addressing over row ids (linear probing, XXH3, a
/// power-of-two size at most half full, erase by backward shift, so no tombstones), whose keys
/// are read from the rows themselves through `key_of(row)`. 8 bytes a slot, 16 to 32 a key,
/// where `std::unordered_map<std::string, row_id>` held a second copy of every key in a node
/// of its own (about 72 bytes) and cost a string allocation per lookup by `string_view`.
class key_table {
 public:
  /// Sizes the table, which must be empty, for `n` keys without growing.
  void reserve(std::size_t n) {
    std::size_t cap = 16;
    while (cap < 2 * n) cap *= 2;
    slots_.assign(cap, {});
    mask_ = cap - 1;
  }
  std::size_t size() const noexcept { return size_; }

  /// The row whose key is `k`, or `no_row`. O(1) expected.
  template <class KeyOf>
  row_id find(std::string_view k, const KeyOf& key_of) const {
    if (slots_.empty()) return no_row;
    const std::uint64_t h = hash_bytes(k);
    for (std::size_t i = h & mask_;; i = (i + 1) & mask_) {
      const slot& s = slots_[i];
      if (s.row == no_row) return no_row;
      if (s.tag == tag(h) && key_of(s.row) == k) return s.row;
    }
  }

  /// Adds row `r` under key `k`, which no row in the table has.
  template <class KeyOf>
  void insert(std::string_view k, row_id r, const KeyOf& key_of) {
    if (2 * (size_ + 1) > slots_.size()) grow(key_of);
    place(hash_bytes(k), r);
    ++size_;
  }

  /// Removes row `r`, whose key is `k`; nothing when the table holds `k` for another row or
  /// not at all.
  template <class KeyOf>
  void erase(std::string_view k, row_id r, const KeyOf& key_of) {
    if (slots_.empty()) return;
    const std::uint64_t h = hash_bytes(k);
    std::size_t i = h & mask_;
    for (;; i = (i + 1) & mask_) {
      if (slots_[i].row == no_row) return;
      if (slots_[i].row == r) break;
    }
    // Backward shift: each later entry of the cluster that may sit earlier moves into the hole.
    for (std::size_t j = (i + 1) & mask_; slots_[j].row != no_row; j = (j + 1) & mask_) {
      const std::size_t home = hash_bytes(key_of(slots_[j].row)) & mask_;
      if (((j - home) & mask_) >= ((j - i) & mask_)) {
        slots_[i] = slots_[j];
        i = j;
      }
    }
    slots_[i] = {no_row, 0};
    --size_;
  }

 private:
  struct slot {
    row_id row = no_row;
    std::uint32_t tag = 0;  ///< the hash's high half: most mismatches never read a key
  };
  static std::uint32_t tag(std::uint64_t h) noexcept { return static_cast<std::uint32_t>(h >> 32); }

  void place(std::uint64_t h, row_id r) {
    std::size_t i = h & mask_;
    while (slots_[i].row != no_row) i = (i + 1) & mask_;
    slots_[i] = {r, tag(h)};
  }

  template <class KeyOf>
  void grow(const KeyOf& key_of) {
    std::vector<slot> old = std::move(slots_);
    reserve(std::max<std::size_t>(8, old.size()));
    for (const slot& s : old)
      if (s.row != no_row) place(hash_bytes(key_of(s.row)), s.row);
  }

  std::vector<slot> slots_;
  std::size_t mask_ = 0;
  std::size_t size_ = 0;
};

}  // namespace detail::live

/// How to take back the changes of a batch that failed (strict mode): one entry per row field
/// set, row deleted or added, and `now` moved, undone in reverse order by `live_rows::rollback`.
struct undo_log {
  enum class kind : std::uint8_t { set_field, killed, appended, now };
  struct entry {
    kind what;
    entity_id entity = no_entity;
    std::uint32_t row = 0, column = 0;
    std::string old;
    timestamp_us old_now = 0;
  };
  std::vector<entry> entries;
};

/// The data of a live dataset: every row of every entity as texts in its `row_layout` (values
/// in the CSV forms of SPEC 2.2), rows deleted marked dead, rows added after the loaded ones.
/// Rebuilt into a graph with `graph_builder`, it is by construction "the CSVs that hold the
/// changed rows" of SPEC 2.4. Memory: the texts of every row (several times the graph's).
class live_rows {
 public:
  /// Reads every row of `g` back as text: exact (floats in shortest round-trip form, timestamps
  /// to the microsecond). Throws data_error for an entity with sources (they cannot change
  /// through a feed yet). O(cells).
  explicit live_rows(const graph& g) : schema_(g.schema()), layout_(g.schema()) {
    for (const auto& def : schema_.entities)
      if (def.resolved() || !def.identities.empty())
        throw data_error("entity '" + def.name +
                         "' has sources: a dataset with sources cannot take changes yet");
    tables_.resize(schema_.entities.size());
    for (entity_id e = 0; e < schema_.entities.size(); ++e) {
      const auto& def = schema_.entities[e];
      const auto& cols = layout_.entities[e];
      auto& t = tables_[e];
      const row_id n = g.rows(e);
      // Room for the rows a feed adds before the next compaction: appending then never moves
      // every row (a pause of many milliseconds at a million rows).
      t.rows.reserve(n + n / 8 + 16);
      t.dead.reserve(n + n / 8 + 16);
      t.rows.assign(n, std::vector<std::string>(cols.names.size()));
      t.dead.assign(n, 0);
      if (cols.key >= 0) t.keys.reserve(n + n / 8 + 16);
      for (row_id r = 0; r < n; ++r) {
        auto& row = t.rows[r];
        for (std::uint32_t l = 0; l < def.links.size(); ++l) {
          const row_id p = g.link(e, l).parent(r);
          if (p != no_row) row[cols.link_column[l]] = std::string(g.key(def.links[l].target, p));
        }
        for (std::uint32_t a = 0; a < def.attributes.size(); ++a) {
          const column& c = g.attribute(e, a);
          if (!c.is_null(r)) row[cols.attribute_column[a]] = value_text(c, r);
        }
        if (cols.key >= 0) {
          row[cols.key] = std::string(g.key(e, r));
          t.keys.insert(row[cols.key], r, key_of(e));
        }
      }
    }
  }

  const b2bseg::schema& schema() const noexcept { return schema_; }
  const row_layout& layout() const noexcept { return layout_; }
  /// The instant `now` stands for; moved by ticks.
  timestamp_us now() const noexcept { return now_; }
  void set_now(timestamp_us t) noexcept { now_ = t; }

  /// Applies `c` (upsert, insert, delete or tick; a commit changes nothing) and records in `undo`
  /// how to take it back; or, when it cannot apply (a delete of a key that is not there, a link
  /// to a key that is not there, a tick backwards), changes nothing and returns the message.
  /// A delete nulls the links of keyed rows that point at the row and deletes the rows without
  /// a key that point at it (SPEC 2.4); a keyed row whose key column is that link goes too.
  /// O(fields) for a row change; a delete visits the rows that point at it (through the child
  /// finder) or, without one, scans every row of the entities that link to its entity.
  std::string apply(const change& c, undo_log& undo) {
    switch (c.op) {
      case change_op::commit:
        return {};
      case change_op::tick:
        if (c.now < now_)
          return "member 'now': tick backwards (now is " + format_timestamp(now_) + ", tick to " +
                 format_timestamp(c.now) + ")";
        undo.entries.push_back({undo_log::kind::now, no_entity, 0, 0, {}, now_});
        now_ = c.now;
        return {};
      case change_op::erase:
        return erase(c, undo);
      case change_op::upsert:
      case change_op::insert:
        return upsert(c, undo);
    }
    return {};
  }

  /// Appends to `out` rows of `child` that may have link `link` set to row `parent` (a
  /// superset of those that did when the batch began; each is checked against its text).
  using child_finder = std::function<void(entity_id child, std::uint32_t link, row_id parent,
                                          std::vector<row_id>& out)>;

  /// Lets a delete find the rows pointing at the deleted one through `f` and the rows the batch
  /// changed, instead of scanning every row of the entities that link to it. Call
  /// `begin_batch` at the start of each batch then.
  void set_child_finder(child_finder f) {
    finder_ = std::move(f);
    touched_.assign(schema_.entities.size(), {});
  }
  /// Forgets the rows the last batch set or added (see set_child_finder).
  void begin_batch() {
    for (auto& t : touched_) t.clear();
  }

  /// Takes back every entry of `undo`, newest first, and empties it.
  void rollback(undo_log& undo) {
    for (auto it = undo.entries.rbegin(); it != undo.entries.rend(); ++it) {
      if (it->what == undo_log::kind::now) {
        now_ = it->old_now;
        continue;
      }
      auto& t = tables_[it->entity];
      const int key = layout_.entities[it->entity].key;
      switch (it->what) {
        case undo_log::kind::set_field:
          t.rows[it->row][it->column] = std::move(it->old);
          break;
        case undo_log::kind::killed:
          t.dead[it->row] = 0;
          if (key >= 0) t.keys.insert(t.rows[it->row][key], it->row, key_of(it->entity));
          break;
        case undo_log::kind::appended:
          if (key >= 0)
            t.keys.erase(t.rows.back()[key], static_cast<row_id>(t.rows.size() - 1),
                         key_of(it->entity));
          t.rows.pop_back();
          t.dead.pop_back();
          break;
        case undo_log::kind::now:
          break;
      }
    }
    undo.entries.clear();
  }

  /// The live rows (loaded rows first, in their order, then added rows in the order they came)
  /// as an indexed graph. Throws data_error only on a broken invariant. O(cells).
  graph build() const {
    graph_builder b(schema_);
    std::vector<std::pair<std::string, std::string>> fields;
    for (entity_id e = 0; e < schema_.entities.size(); ++e) {
      const auto& names = layout_.entities[e].names;
      const auto& t = tables_[e];
      for (std::size_t r = 0; r < t.rows.size(); ++r) {
        if (t.dead[r]) continue;
        fields.clear();
        for (std::size_t i = 0; i < names.size(); ++i)
          if (!t.rows[r][i].empty()) fields.emplace_back(names[i], t.rows[r][i]);
        b.add_row(schema_.entities[e].name, fields);
      }
    }
    return b.build();
  }

  /// Rows held for entity `e`, dead ones included.
  std::size_t rows(entity_id e) const noexcept { return tables_[e].rows.size(); }

  /// The value of `r`'s field `column` in CSV text form ("" for null).
  const std::string& field(entity_id e, std::size_t r, std::uint32_t column) const {
    return tables_[e].rows[r][column];
  }

  /// Whether row `r` of `e` was deleted (its texts stay, its key is free again).
  bool dead(entity_id e, std::size_t r) const noexcept { return tables_[e].dead[r] != 0; }

  /// The live row of `e` with key `key`, or `no_row`. O(1) expected.
  row_id find(entity_id e, std::string_view key) const {
    return tables_[e].keys.find(key, key_of(e));
  }

 private:
  struct table {
    std::vector<std::vector<std::string>> rows;
    std::vector<std::uint8_t> dead;
    detail::live::key_table keys;  ///< live rows only
  };

  /// Reads the keys of one table's rows, for its key table.
  struct key_reader {
    const table* t;
    std::size_t column;
    std::string_view operator()(row_id r) const { return t->rows[r][column]; }
  };
  key_reader key_of(entity_id e) const {
    return {&tables_[e], static_cast<std::size_t>(layout_.entities[e].key)};
  }

  static std::string value_text(const column& c, row_id r) {
    switch (c.type()) {
      case value_type::integer:
        return std::to_string(c.ints()[r]);
      case value_type::timestamp:
        return format_timestamp(c.ints()[r]);
      case value_type::floating: {
        char buf[32];
        auto res = std::to_chars(buf, buf + sizeof buf, c.floats()[r]);
        return std::string(buf, res.ptr);
      }
      case value_type::boolean:
        return c.bool_at(r) ? "true" : "false";
      case value_type::string:
        return std::string(c.string_at(r));
      case value_type::string_list: {
        std::string s;
        for (auto code : c.list_at(r)) {
          if (!s.empty()) s += '|';
          s += c.dictionary()[code];
        }
        return s;
      }
    }
    return {};
  }

  /// Checks the link fields of `c`: each non-empty value a live key of the link's target (or the
  /// row's own key, for a row that links to itself).
  std::string check_links(const change& c) const {
    const auto& def = schema_.entities[c.entity];
    const auto& cols = layout_.entities[c.entity];
    for (const auto& f : c.fields) {
      if (f.value.empty()) continue;
      for (std::uint32_t l = 0; l < def.links.size(); ++l) {
        if (cols.link_column[l] != f.column) continue;
        const entity_id to = def.links[l].target;
        if (find(to, f.value) != no_row) continue;
        if (to == c.entity && !c.key.empty() && f.value == c.key) continue;
        return "field '" + cols.names[f.column] + "': no " + def.links[l].to + " with key \"" +
               f.value + "\"";
      }
    }
    return {};
  }

  std::string upsert(const change& c, undo_log& undo) {
    if (auto m = check_links(c); !m.empty()) return m;
    auto& t = tables_[c.entity];
    const auto width = layout_.entities[c.entity].names.size();
    const row_id found = c.op == change_op::upsert ? find(c.entity, c.key) : no_row;
    if (found != no_row) {
      auto& row = t.rows[found];
      for (const auto& f : c.fields) {
        if (row[f.column] == f.value) continue;
        undo.entries.push_back(
            {undo_log::kind::set_field, c.entity, found, f.column, row[f.column], 0});
        row[f.column] = f.value;
      }
      if (finder_) touched_[c.entity].push_back(found);
      return {};
    }
    std::vector<std::string> row(width);
    for (const auto& f : c.fields) row[f.column] = f.value;
    const auto r = static_cast<std::uint32_t>(t.rows.size());
    t.rows.push_back(std::move(row));
    t.dead.push_back(0);
    if (c.op == change_op::upsert) t.keys.insert(c.key, r, key_of(c.entity));
    undo.entries.push_back({undo_log::kind::appended, c.entity, r, 0, {}, 0});
    if (finder_) touched_[c.entity].push_back(r);
    return {};
  }

  void kill(entity_id e, std::uint32_t r, undo_log& undo) {
    auto& t = tables_[e];
    t.dead[r] = 1;
    const int key = layout_.entities[e].key;
    if (key >= 0) t.keys.erase(t.rows[r][key], r, key_of(e));
    undo.entries.push_back({undo_log::kind::killed, e, r, 0, {}, 0});
  }

  std::string erase(const change& c, undo_log& undo) {
    const row_id found = find(c.entity, c.key);
    if (found == no_row)
      return "member 'key': no " + schema_.entities[c.entity].name + " with key \"" + c.key + "\"";
    kill_and_cascade(c.entity, found, undo);
    return {};
  }

  /// Kills row `r` of `e`; links that pointed at it become null in rows with a key, and rows
  /// without a key (or whose key is that link) die with it, and so on down.
  void kill_and_cascade(entity_id e, std::uint32_t r, undo_log& undo) {
    const int key_column = layout_.entities[e].key;
    const std::string key = key_column >= 0 ? tables_[e].rows[r][key_column] : std::string();
    kill(e, r, undo);
    if (key.empty()) return;  // nothing can link to a row without a key
    for (entity_id ce = 0; ce < schema_.entities.size(); ++ce) {
      const auto& def = schema_.entities[ce];
      auto& ct = tables_[ce];
      for (std::uint32_t l = 0; l < def.links.size(); ++l) {
        if (def.links[l].target != e) continue;
        const std::uint32_t col = layout_.entities[ce].link_column[l];
        // The rows that may point at r: from the finder (the rows as they were when the batch
        // began) plus the rows this batch set or added; else every row.
        std::vector<row_id> cands;
        if (finder_) {
          finder_(ce, l, r, cands);
          cands.insert(cands.end(), touched_[ce].begin(), touched_[ce].end());
        } else {
          cands.resize(ct.rows.size());
          for (std::uint32_t cr = 0; cr < ct.rows.size(); ++cr) cands[cr] = cr;
        }
        for (row_id cr : cands) {
          if (cr >= ct.rows.size() || ct.dead[cr] || ct.rows[cr][col] != key) continue;
          if (def.key && static_cast<int>(col) != layout_.entities[ce].key) {
            undo.entries.push_back({undo_log::kind::set_field, ce, cr, col, ct.rows[cr][col], 0});
            ct.rows[cr][col].clear();
          } else {
            kill_and_cascade(ce, cr, undo);
          }
        }
      }
    }
  }

  b2bseg::schema schema_;
  row_layout layout_;
  std::vector<table> tables_;
  timestamp_us now_ = 0;
  child_finder finder_;
  std::vector<std::vector<row_id>> touched_;  ///< per entity: rows set or added this batch
};

}  // namespace b2bseg
