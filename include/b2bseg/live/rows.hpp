// The current rows of a live dataset, in CSV text form, changed one checked change at a time
// with an undo log, and rebuilt into an indexed graph after each batch.
#pragma once

#include <algorithm>
#include <charconv>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <span>
#include <string>
#include <unordered_map>
#include <vector>

#include "b2bseg/common/parse.hpp"
#include "b2bseg/common/wire.hpp"
#include "b2bseg/exec/parallel.hpp"
#include "b2bseg/live/change.hpp"
#include "b2bseg/live/sources.hpp"
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

  /// A look-up asked for ahead, in two steps (see live_rows::prefetch): `home(k)` asks for the
  /// line of `k`'s first slot and returns `k`'s hash; `candidate(h)`, once that line has come,
  /// is the row of the first slot of `h`'s cluster that carries `h`'s tag (most likely the row
  /// whose key is `k`, whose key a look-up then reads; `no_row`: none). Neither compares a key
  /// nor changes anything. O(1) expected.
  std::uint64_t home(std::string_view k) const noexcept {
    const std::uint64_t h = hash_bytes(k);
    if (!slots_.empty()) __builtin_prefetch(&slots_[h & mask_]);
    return h;
  }
  row_id candidate(std::uint64_t h) const noexcept {
    if (slots_.empty()) return no_row;
    for (std::size_t i = h & mask_;; i = (i + 1) & mask_) {
      const slot& s = slots_[i];
      if (s.row == no_row || s.tag == tag(h)) return s.row;
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

/// The rows the delta may hold before live_engine compacts by default, when the graph of the
/// last compaction has `total` rows: an eighth of them, at least 1,024. O(1).
inline std::size_t compaction_bound(std::size_t total) noexcept {
  return std::max<std::size_t>(1024, total / 8);
}

/// The rows an entity's arrays keep room for, between two compactions, when it has `rows` and
/// the graph `total`: every row the delta may add before the next compaction
/// (`compaction_bound`) may be one of this entity's, so appending never moves every row (a batch
/// that moved 10M events' texts took half a second). The room of an entity smaller than the
/// bound is its own size: moving it costs less. O(1).
inline std::size_t with_room(std::size_t rows, std::size_t total) noexcept {
  return rows + std::min(rows, compaction_bound(total)) + 16;
}

/// Rows of every entity of `g`. O(entities).
inline std::size_t total_rows(const graph& g) noexcept {
  std::size_t total = 0;
  for (entity_id e = 0; e < g.schema().entities.size(); ++e) total += g.rows(e);
  return total;
}

}  // namespace detail::live

/// How to take back the changes of a batch that failed (strict mode): one entry per row field
/// set, row deleted or added, `now` moved, and source row set or added (an entity with sources;
/// `row` is then the source row's index, not a row of the graph), undone in reverse order by
/// `live_rows::rollback`.
struct undo_log {
  enum class kind : std::uint8_t { set_field, killed, appended, now, source_set, source_appended };
  struct entry {
    kind what;
    entity_id entity = no_entity;
    std::uint32_t row = 0, column = 0;
    std::string old;
    timestamp_us old_now = 0;
    std::shared_ptr<detail::live::source_row> old_source{};  ///< source_set: the row before
  };
  std::vector<entry> entries;

  /// True for the entries that name a row of the graph (set, killed, appended).
  static bool names_row(kind k) noexcept {
    return k == kind::set_field || k == kind::killed || k == kind::appended;
  }
};

namespace detail::live {

/// `s` with every entity with sources turned into a plain one over its merged profiles (its key
/// column, then a column per attribute and link, named after them) and every link holding keys:
/// the schema of the rows `live_rows` keeps, which `graph_builder` builds.
inline schema flat_schema(schema s) {
  for (auto& def : s.entities) {
    for (auto& l : def.links) {
      l.identity.clear();
      l.identity_index = 0;
    }
    if (!def.resolved()) continue;
    std::vector<std::string> used;
    if (def.key) used.push_back(*def.key);
    auto unique = [&](std::string n) {
      while (std::find(used.begin(), used.end(), n) != used.end()) n += "_";
      used.push_back(n);
      return n;
    };
    for (auto& a : def.attributes) a.column = unique(a.name);
    for (auto& l : def.links) l.column = unique(l.name);
    def.file = def.name + ".csv";
    def.sources.clear();
    def.identities.clear();
  }
  return s;
}

}  // namespace detail::live

/// The data of a live dataset: every row of every entity as texts in its `row_layout` (values
/// in the CSV forms of SPEC 2.2), rows deleted marked dead, rows added after the loaded ones.
/// Rebuilt into a graph with `graph_builder`, it is by construction "the CSVs that hold the
/// changed rows" of SPEC 2.4. Memory: the texts of every row (several times the graph's).
///
/// An entity with sources (SPEC 2.3) is held twice: its source rows (`source_table`), which the
/// feed changes, and its profiles as plain keyed rows (key = profile key) in the flat layout of
/// `detail::live::flat_schema`, which the graph is built from. A change to a source row
/// re-resolves only the profiles it touches (before and after): profiles whose key goes are
/// deleted, new ones created, changed ones updated field by field, and rows linking to them
/// follow their link values (a link by namespace keeps the value as written in a slot after the
/// row's columns): to the profile that now holds the value, or to null (a row without a key:
/// deleted) when none does, as SPEC 2.4's delete cascade does.
class live_rows {
 public:
  /// Reads every row of `g` back as text: exact (floats in shortest round-trip form, timestamps
  /// to the microsecond). For a dataset with sources, the source rows and the link values by
  /// namespace, which a graph does not index, come from the snapshot `g` was opened from when it
  /// carries them (`graph::sources`, written by `save_sources`), else from `dataset`, the folder
  /// `g` was loaded from (with `lenient` as loaded), read again. Throws data_error when they
  /// cannot be (no folder, a snapshot without them, files changed since, saved rows that do not
  /// make `g`'s profiles). O(cells).
  explicit live_rows(const graph& g, const std::string& dataset = {}, bool lenient = false)
      : original_(std::make_shared<const b2bseg::schema>(g.schema())),
        flat_(detail::live::flat_schema(g.schema())),
        layout_(flat_) {
    init_slots();
    read_graph(g);
    bool any = false;
    for (const auto& def : original_->entities) any = any || def.resolved();
    if (!any) return;
    if (g.sources()) {
      load_sources(g);
      return;
    }
    read_source_tables(g, dataset, lenient);
    read_raw_links(g, dataset, [this](entity_id e, std::uint32_t l, row_id r, std::string v) {
      tables_[e].rows[r][static_cast<std::size_t>(raw_slot_[e][l])] = std::move(v);
    });
    start_row_.clear();
  }

  /// The rows of `g`, a graph built by `previous.build(&from)`, taking `previous`'s texts
  /// instead of reading them back from `g`: each live row's texts move to its row of `g` (the
  /// texts as they were given, which `g` holds as values), dead rows are dropped; the source
  /// rows carry over (shared). `previous` is left without rows; if this throws (memory
  /// exhausted) it may have lost some. What a compaction does: O(rows) moves and a key table, no
  /// text formatted, no key looked up; the entities side by side (oneTBB, the caller's arena).
  live_rows(const graph& g, live_rows&& previous,
            const std::vector<std::vector<std::uint32_t>>& from)
      : original_(previous.original_),
        flat_(previous.flat_),
        layout_(flat_),
        sources_(previous.sources_) {
    init_slots();
    now_ = previous.now_;
    const std::size_t n = original_->entities.size();
    if (from.size() != n) throw std::logic_error("live_rows: a numbering of another schema");
    for (entity_id e = 0; e < n; ++e)
      if (from[e].size() != g.rows(e))
        throw std::logic_error("live_rows: a numbering of another graph");
    tables_.resize(n);
    // Largest first, so that the largest entity (events) starts at once beside the others.
    std::vector<entity_id> order(n);
    for (entity_id e = 0; e < n; ++e) order[e] = e;
    std::stable_sort(order.begin(), order.end(),
                     [&](entity_id a, entity_id b) { return from[a].size() > from[b].size(); });
    const std::size_t total = detail::live::total_rows(g);
    b2bseg::detail::parallel_for(std::size_t{0}, n, [&](std::size_t k) {
      const entity_id e = order[k];
      auto& t = tables_[e];
      auto& old = previous.tables_[e];
      const std::size_t rows = from[e].size();
      // Room for the rows a feed adds before the next compaction, as `read_graph` keeps.
      const std::size_t room = detail::live::with_room(rows, total);
      t.rows.reserve(room);
      t.dead.reserve(room);
      t.dead.assign(rows, 0);
      const int key = layout_.entities[e].key;
      if (key >= 0) t.keys.reserve(room);
      for (std::size_t r = 0; r < rows; ++r) {
        t.rows.push_back(std::move(old.rows[from[e][r]]));
        if (key >= 0)
          t.keys.insert(t.rows[r][static_cast<std::size_t>(key)], static_cast<row_id>(r),
                        key_of(e));
      }
      old = table{};
    });
  }

  /// What a snapshot of `built` (the graph these rows build, or were read from) must carry so
  /// that changes can follow it (SPEC 2.4, 2.5): every live source row (slots, `updated_at`,
  /// place in the merge order) and the link values by namespace of the rows of `built`, in its
  /// row order. Empty for a dataset without sources. Read back by the constructor through
  /// `graph::sources`. O(source rows + rows linking by namespace).
  std::string save_sources(const graph& built) const {
    std::string out;
    if (!write_source_rows(out)) return out;
    wire_writer w(out);
    entity_id mapped = no_entity;
    std::vector<std::size_t> from;
    write_link_columns(w, built, [&](entity_id e, std::uint32_t l, row_id r) -> std::string_view {
      if (mapped != e) {
        from = table_rows_of(built, e);
        mapped = e;
      }
      return tables_[e].rows[from[r]][static_cast<std::size_t>(raw_slot_[e][l])];
    });
    return out;
  }

  /// `save_sources` of `g`, loaded from dataset folder `dataset` (with `lenient` as loaded),
  /// without reading its rows as texts: only the source rows and the link values by namespace
  /// are read again from the folder (what `b2bseg snapshot` of such a folder writes). Throws
  /// data_error as the constructor does. O(source rows + rows linking by namespace).
  static std::string saved_sources_of(const graph& g, const std::string& dataset,
                                      bool lenient = false) {
    live_rows x(g, sources_only{});
    bool any = false;
    for (const auto& def : x.original_->entities) any = any || def.resolved();
    if (!any) return {};
    x.read_source_tables(g, dataset, lenient);
    std::map<std::pair<entity_id, std::uint32_t>, std::vector<std::string>> raw;
    x.read_raw_links(g, dataset, [&](entity_id e, std::uint32_t l, row_id r, std::string v) {
      auto& column = raw[{e, l}];
      if (column.empty()) column.resize(g.rows(e));
      column[r] = std::move(v);
    });
    std::string out;
    x.write_source_rows(out);
    wire_writer w(out);
    x.write_link_columns(w, g, [&](entity_id e, std::uint32_t l, row_id r) -> std::string_view {
      const auto it = raw.find({e, l});
      return it == raw.end() ? std::string_view() : std::string_view(it->second[r]);
    });
    return out;
  }

 private:
  /// Per entity, the row width and the slot of each link's value as written (links into an
  /// entity with sources).
  void init_slots() {
    const std::size_t n = original_->entities.size();
    source_layout_ = row_layout(*original_);
    sources_.resize(n);
    raw_slot_.assign(n, {});
    width_.assign(n, 0);
    for (entity_id e = 0; e < n; ++e) {
      const auto& def = original_->entities[e];
      std::size_t w = layout_.entities[e].names.size();
      raw_slot_[e].assign(def.links.size(), -1);
      if (!def.resolved())
        for (std::uint32_t l = 0; l < def.links.size(); ++l)
          if (original_->entities[def.links[l].target].resolved())
            raw_slot_[e][l] = static_cast<int>(w++);
      width_[e] = w;
    }
  }

  /// For each row of entity `e` of `g`, which of the `n` records (in the order they were added
  /// or read) it was built from, following the loader's numbering (table_builder.hpp): keyed
  /// rows found by key (`key(i)`), others in a stable order by the parent through the first
  /// link to an entity built before (`parent(i, link)`: a row of `g`), unset last. Throws
  /// data_error when the records do not make the rows.
  template <class Key, class Parent>
  std::vector<std::size_t> record_of_row(const graph& g, entity_id e, std::size_t n, Key key,
                                         Parent parent) const {
    const auto& def = original_->entities[e];
    if (n != g.rows(e))
      throw data_error(def.name + ": " + std::to_string(n) + " records for " +
                       std::to_string(g.rows(e)) + " rows");
    std::vector<std::size_t> out(n, ~std::size_t(0));
    if (def.key) {
      for (std::size_t i = 0; i < n; ++i) {
        const row_id r = g.find_key(e, key(i));
        if (r == no_row || out[r] != ~std::size_t(0))
          throw data_error(def.name + ": record " + std::to_string(i + 1) + " is no row");
        out[r] = i;
      }
      return out;
    }
    const int cluster = detail::cluster_links(*original_)[e];
    if (cluster < 0) {
      for (std::size_t i = 0; i < n; ++i) out[i] = i;
      return out;
    }
    const std::size_t parents = g.rows(def.links[static_cast<std::size_t>(cluster)].target);
    std::vector<row_id> p(n);
    std::vector<std::size_t> start(parents + 2, 0);
    for (std::size_t i = 0; i < n; ++i) {
      p[i] = parent(i, static_cast<std::uint32_t>(cluster));
      ++start[(p[i] == no_row ? parents : p[i]) + 1];
    }
    for (std::size_t k = 1; k < start.size(); ++k) start[k] += start[k - 1];
    for (std::size_t i = 0; i < n; ++i) out[start[p[i] == no_row ? parents : p[i]]++] = i;
    return out;
  }

  struct sources_only {};
  /// The schema of `g` and the slots, no rows: what `saved_sources_of` fills.
  live_rows(const graph& g, sources_only)
      : original_(std::make_shared<const b2bseg::schema>(g.schema())),
        flat_(detail::live::flat_schema(g.schema())),
        layout_(flat_) {
    init_slots();
    tables_.resize(original_->entities.size());
  }

  /// The source rows of every entity with sources, read again from dataset folder `dataset`
  /// (loaded with `lenient`), checked to make `g`'s profiles. Throws data_error.
  void read_source_tables(const graph& g, const std::string& dataset, bool lenient) {
    namespace fs = std::filesystem;
    std::error_code ec;
    if (dataset.empty() || !fs::is_directory(dataset, ec)) {
      std::string name;
      for (const auto& def : original_->entities)
        if (def.resolved() && name.empty()) name = def.name;
      throw data_error((dataset.empty() ? std::string("data") : dataset) + ": entity '" + name +
                       "' has sources: changes need its source rows, which this snapshot does "
                       "not hold (written from a graph alone); give the dataset folder, or a "
                       "snapshot that `b2bseg snapshot` or `serve` wrote");
    }
    for (entity_id e = 0; e < original_->entities.size(); ++e)
      if (original_->entities[e].resolved())
        sources_[e] = std::make_shared<detail::live::source_table>(
            detail::live::read_source_table(original_, e, dataset, lenient));
    check_profiles(g, dataset);
  }

  /// Appends the first part of `save_sources` (every live source row) to `out`; false (nothing
  /// written) when no entity has sources.
  bool write_source_rows(std::string& out) const {
    std::vector<entity_id> resolved;
    for (entity_id e = 0; e < original_->entities.size(); ++e)
      if (sources_[e]) resolved.push_back(e);
    if (resolved.empty()) return false;
    wire_writer w(out);
    w.u64(resolved.size());
    for (entity_id e : resolved) {
      const auto& st = *sources_[e];
      std::size_t live = 0;
      for (std::uint32_t x = 0; x < st.size(); ++x) live += !st.row(x).dead;
      w.u64(e);
      w.u64(st.next_seq());
      w.u64(live);
      for (std::uint32_t x = 0; x < st.size(); ++x) {
        const auto& row = st.row(x);
        if (row.dead) continue;
        w.u64(row.source);
        w.u64(row.seq);
        w.u64(row.has_updated);
        w.u64(static_cast<std::uint64_t>(row.updated));
        for (const std::string& v : row.slots) w.str(v);
      }
    }
    return true;
  }

  /// The second part of `save_sources`: per link by namespace of a plain entity, the value as
  /// written of each row of `g`, `value(e, l, r)` (called in entity, link, row order).
  template <class Value>
  void write_link_columns(wire_writer& w, const graph& g, Value value) const {
    std::size_t columns = 0;
    for (const auto& slots : raw_slot_)
      for (int slot : slots) columns += slot >= 0;
    w.u64(columns);
    for (entity_id e = 0; e < original_->entities.size(); ++e)
      for (std::uint32_t l = 0; l < raw_slot_[e].size(); ++l) {
        if (raw_slot_[e][l] < 0) continue;
        w.u64(e);
        w.u64(l);
        w.u64(g.rows(e));
        for (row_id r = 0; r < g.rows(e); ++r) w.str(value(e, l, r));
      }
  }

  /// For each row of `g`, a graph built from these rows (or read into them), the row of entity
  /// `e`'s table it was built from. Throws data_error when `g` is not such a graph. O(rows).
  std::vector<std::size_t> table_rows_of(const graph& g, entity_id e) const {
    const auto& t = tables_[e];
    std::vector<std::size_t> live;
    for (std::size_t r = 0; r < t.rows.size(); ++r)
      if (!t.dead[r]) live.push_back(r);
    const auto& cols = layout_.entities[e];
    std::vector<std::size_t> from = record_of_row(
        g, e, live.size(),
        [&](std::size_t i) -> std::string_view {
          return t.rows[live[i]][static_cast<std::size_t>(cols.key)];
        },
        [&](std::size_t i, std::uint32_t l) {
          return g.find_key(original_->entities[e].links[l].target,
                            t.rows[live[i]][cols.link_column[l]]);
        });
    for (std::size_t& x : from) x = live[x];
    return from;
  }

  /// Reads what `save_sources` wrote, carried by the snapshot `g` was opened from, into the
  /// source tables and the link slots of `g`'s rows (read into the tables already), checking
  /// that it makes `g`: every entity with sources and every link by namespace present once, the
  /// profiles of the source rows those of `g`, each link value resolving to the row's link.
  /// Throws data_error naming the snapshot's section. O(source rows + rows linking by namespace).
  void load_sources(const graph& g) {
    const auto& saved = *g.sources();
    auto fail = [&](const std::string& what) -> data_error {
      return data_error(saved.origin, 0, 0, what);
    };
    const std::size_t n = original_->entities.size();
    wire_reader rd(saved.bytes);
    try {
      std::vector<std::uint8_t> seen(n, 0);
      const std::uint64_t count = rd.u64();
      if (count > n) throw fail("more entities with sources than the schema has");
      for (std::uint64_t i = 0; i < count; ++i) {
        const std::uint64_t e = rd.u64();
        if (e >= n || !original_->entities[e].resolved() || seen[e])
          throw fail("names entity " + std::to_string(e) + ", which has no sources or came before");
        seen[e] = 1;
        const auto& def = original_->entities[e];
        auto t = std::make_shared<detail::live::source_table>(original_, static_cast<entity_id>(e));
        const std::uint64_t next_seq = rd.u64(), rows = rd.u64();
        if (rows > rd.left() / 32) throw fail(def.name + ": more rows than the section holds");
        for (std::uint64_t x = 0; x < rows; ++x) {
          detail::live::source_row row;
          const std::uint64_t source = rd.u64();
          if (source >= def.sources.size())
            throw fail(def.name + ": a row of source " + std::to_string(source) +
                       ", which the schema does not have");
          row.source = static_cast<std::uint32_t>(source);
          row.seq = rd.u64();
          const std::uint64_t has = rd.u64();
          if (row.seq >= next_seq || has > 1)
            throw fail(def.name + ": row " + std::to_string(x) + " is malformed");
          row.has_updated = has != 0;
          row.updated = static_cast<std::int64_t>(rd.u64());
          row.slots.resize(t->width(row.source));
          for (std::string& v : row.slots) v = std::string(rd.str());
          t->append(std::move(row));
        }
        t->reserve_seq(next_seq);
        sources_[e] = std::move(t);
      }
      for (entity_id e = 0; e < n; ++e)
        if (original_->entities[e].resolved() && !seen[e])
          throw fail("holds no source rows of " + original_->entities[e].name);
      check_profiles(g, saved.origin);
      std::vector<std::vector<std::uint8_t>> done(n);
      std::size_t columns = 0;
      for (entity_id e = 0; e < n; ++e) {
        done[e].assign(raw_slot_[e].size(), 0);
        for (int slot : raw_slot_[e]) columns += slot >= 0;
      }
      if (rd.u64() != columns) throw fail("not one column per link by identity");
      for (std::size_t i = 0; i < columns; ++i) {
        const std::uint64_t e = rd.u64(), l = rd.u64();
        if (e >= n || l >= raw_slot_[e].size() || raw_slot_[e][l] < 0 || done[e][l])
          throw fail("a link column that is no link by identity, or came before");
        done[e][l] = 1;
        const auto& def = original_->entities[e];
        if (rd.u64() != g.rows(e)) throw fail(def.name + ": not one link value per row");
        const auto slot = static_cast<std::size_t>(raw_slot_[e][l]);
        const auto target = def.links[l].target;
        for (row_id r = 0; r < g.rows(e); ++r) {
          const std::string_view v = rd.str();
          const row_id p = g.link(e, static_cast<std::uint32_t>(l)).parent(r);
          const std::string_view want = p == no_row ? std::string_view() : g.key(target, p);
          if (resolve_at_start(g, static_cast<entity_id>(e), static_cast<std::uint32_t>(l), v) !=
              want)
            throw fail(def.name + ": the link value of row " + std::to_string(r) +
                       " does not resolve to the row's " + def.links[l].name);
          tables_[e].rows[r][slot] = std::string(v);
        }
      }
      if (!rd.done()) throw fail("bytes after the last link column");
      start_row_.clear();
    } catch (const std::out_of_range&) {
      throw fail("cut short");
    }
  }

  /// The link values as written of the rows of plain entities linking into entities with
  /// sources, read again from their files (the graph holds the profiles they resolved to); each
  /// checked to resolve as it did (after `check_profiles`), and handed to `store(e, l, r, value)`
  /// for row `r` of `g` linked through link `l`. O(rows of those files).
  template <class Store>
  void read_raw_links(const graph& g, const std::string& dir, Store store) {
    namespace fs = std::filesystem;
    const std::string schema_path = (fs::path(dir) / "schema.json").string();
    for (entity_id e = 0; e < original_->entities.size(); ++e) {
      if (width_[e] == layout_.entities[e].names.size()) continue;
      const auto& def = original_->entities[e];
      const std::vector<std::string> paths = detail::entity_files(dir, schema_path, def);
      const csv_file f = csv_file::open(paths[0]);
      // Per record: the key, then every link's value as written.
      const std::size_t nl = def.links.size(), width = 1 + nl;
      std::vector<std::size_t> col(width, ~std::size_t(0));
      if (def.key) col[0] = f.require_column(*def.key);
      for (std::size_t l = 0; l < nl; ++l) col[1 + l] = f.require_column(def.links[l].column);
      std::vector<std::string> records;
      std::vector<std::size_t> lines;
      std::vector<std::string_view> fields;
      for (const csv_chunk& part : f.split(1)) {
        csv_record_reader reader(f, part);
        while (reader.next(fields)) {
          lines.push_back(reader.line());
          for (std::size_t c = 0; c < width; ++c)
            records.emplace_back(col[c] == ~std::size_t(0) ? std::string_view() : fields[col[c]]);
        }
      }
      const std::size_t n = lines.size();
      // Each link's value resolved once: to the key it names now (the file's own for a plain
      // target).
      std::vector<std::string> keys(n * nl);
      for (std::size_t i = 0; i < n; ++i)
        for (std::uint32_t l = 0; l < nl; ++l) {
          const std::string& raw = records[i * width + 1 + l];
          keys[i * nl + l] = raw_slot_[e][l] >= 0 ? resolve_at_start(g, e, l, raw) : raw;
        }
      auto changed = [&](std::size_t line) {
        return data_error(f.name(), line, 0,
                          "differs from the data loaded (changed since, or rows a lenient load "
                          "dropped): the links of " +
                              def.name +
                              " by identity cannot be followed; load it again, strictly");
      };
      std::vector<std::size_t> from;
      try {
        from = record_of_row(
            g, e, n, [&](std::size_t i) -> std::string_view { return records[i * width]; },
            [&](std::size_t i, std::uint32_t l) {
              return g.find_key(def.links[l].target, keys[i * nl + l]);
            });
      } catch (const data_error&) {
        throw changed(0);
      }
      for (row_id r = 0; r < n; ++r) {
        const std::size_t i = from[r];
        for (std::uint32_t l = 0; l < nl; ++l) {
          if (raw_slot_[e][l] < 0) continue;
          const row_id p = g.link(e, l).parent(r);
          const std::string_view want =
              p == no_row ? std::string_view() : g.key(def.links[l].target, p);
          if (keys[i * nl + l] != want) throw changed(lines[i]);
          if (p != no_row) store(e, l, r, std::move(records[i * width + 1 + l]));
        }
      }
    }
  }

  /// Checks that the source rows read again make the profiles of `g` (the files did not change
  /// since it was loaded): as many profiles, each with its key. O(source rows).
  /// Also notes each live source row's profile as a row of `g` (`start_row_`, for
  /// `resolve_at_start`).
  void check_profiles(const graph& g, const std::string& dir) {
    start_row_.assign(original_->entities.size(), {});
    for (entity_id e = 0; e < original_->entities.size(); ++e) {
      const auto* st = sources_[e].get();
      if (!st) continue;
      std::vector<std::uint32_t> live;
      for (std::uint32_t x = 0; x < st->size(); ++x)
        if (!st->row(x).dead) live.push_back(x);
      // Keys are distinct across profiles: as many profiles, each a key of g, is the same set.
      std::size_t profiles = 0;
      bool same = true;
      start_row_[e].assign(st->size(), no_row);
      for (const auto& p : st->profiles(live)) {
        ++profiles;
        const row_id r = g.find_key(e, st->key_of(p));
        same = same && r != no_row;
        for (std::uint32_t x : p) start_row_[e][x] = r;
      }
      if (!same || profiles != g.rows(e))
        throw data_error(dir, 0, 0,
                         "the sources of " + original_->entities[e].name +
                             " differ from the data loaded (changed since it was loaded); load "
                             "it again");
    }
  }

  /// What `resolve_link(e, l, raw)` gives for a link into an entity with sources, at the start
  /// (after `check_profiles` over `g`, before any change): the profile of a source row holding
  /// the value, found through `start_row_` in O(1) instead of a search over the profile.
  std::string resolve_at_start(const graph& g, entity_id e, std::uint32_t l,
                               std::string_view raw) const {
    const link_def& ld = original_->entities[e].links[l];
    if (raw.empty()) return {};
    // A profile key as written: the graph's keys are the profiles' (`check_profiles`).
    if (ld.identity.empty())
      return g.find_key(ld.target, raw) != no_row ? std::string(raw) : std::string();
    std::string buffer;
    const auto rule = original_->entities[ld.target].identities[ld.identity_index].rule;
    const std::string_view v = normalize_identity(rule, raw, buffer);
    row_id r = no_row;
    sources_[ld.target]->for_rows_with(ld.identity_index, v, [&](std::uint32_t x) {
      if (r == no_row) r = start_row_[ld.target][x];
    });
    return r == no_row ? std::string() : std::string(g.key(ld.target, r));
  }

  /// Every row of `g` as texts in the flat layout.
  void read_graph(const graph& g) {
    tables_.resize(original_->entities.size());
    const std::size_t total = detail::live::total_rows(g);
    for (entity_id e = 0; e < original_->entities.size(); ++e) {
      const auto& def = original_->entities[e];
      const auto& cols = layout_.entities[e];
      auto& t = tables_[e];
      const row_id n = g.rows(e);
      // Room for the rows a feed adds before the next compaction: appending then never moves
      // every row (a pause of many milliseconds at a million rows).
      const std::size_t room = detail::live::with_room(n, total);
      t.rows.reserve(room);
      t.dead.reserve(room);
      t.rows.assign(n, std::vector<std::string>(width_[e]));
      t.dead.assign(n, 0);
      if (cols.key >= 0) t.keys.reserve(room);
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

 public:
  /// The dataset's schema (entities with sources as declared).
  const b2bseg::schema& schema() const noexcept { return *original_; }
  const row_layout& layout() const noexcept { return layout_; }
  /// The instant `now` stands for; moved by ticks.
  timestamp_us now() const noexcept { return now_; }
  void set_now(timestamp_us t) noexcept { now_ = t; }

  /// Applies `c` (upsert, insert, delete or tick; a commit changes nothing) and records in `undo`
  /// how to take it back; or, when it cannot apply (a delete of a key that is not there, a link
  /// to a key that is not there, a tick backwards, a profile merging more source rows than
  /// `max_rows_per_profile`), changes nothing and returns the message.
  /// A delete nulls the links of keyed rows that point at the row and deletes the rows without
  /// a key that point at it (SPEC 2.4); a keyed row whose key column is that link goes too.
  /// A change naming a source (`c.source`) finds its source rows by the first identity of the
  /// source that the row gives (every row of that source holding that value; none: a new row),
  /// sets the fields given (a delete removes the rows), then re-resolves the profiles those rows
  /// were part of or now join (see the class comment).
  /// O(fields) for a row change; a delete visits the rows that point at it (through the child
  /// finder) or, without one, scans every row of the entities that link to its entity; a source
  /// change, the rows of the profiles it touches and the rows linking to them.
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
        if (c.source != ~0u) return change_source(c, undo);
        return erase(c, undo);
      case change_op::upsert:
      case change_op::insert:
        if (c.source != ~0u) return change_source(c, undo);
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
    touched_.assign(original_->entities.size(), {});
  }
  /// Forgets the rows the last batch set or added (see set_child_finder).
  void begin_batch() {
    for (auto& t : touched_) t.clear();
  }

  /// Takes back every entry of `undo`, newest first, and empties it.
  void rollback(undo_log& undo) { rollback_to(undo, 0); }

  /// Per entity and link, for each row of the store, the row of the link's target whose key
  /// its link value is (`no_row`: none or not known): what a `live_view` keeps.
  using link_parents = std::vector<std::vector<std::span<const row_id>>>;

  /// Values a build may copy instead of parsing them: `graph`, whose row r of each entity holds
  /// the values of this store's row r wherever `changed[e][r]` is 0 (rows past the span are
  /// parsed). What a `live_view` knows of its base graph (`live_view::changed`).
  struct base_values {
    const b2bseg::graph* graph = nullptr;
    std::vector<std::span<const std::uint8_t>> changed;
  };

  /// The live rows (loaded rows first, in their order, then added rows in the order they came)
  /// as an indexed graph under the dataset's schema. `from`, when given, receives per entity,
  /// for each row of the graph, the row of this store it was built from (what the moving
  /// constructor takes). `parents`, when given, must name for every live row the row its link
  /// values are the keys of (they are not checked): the build then takes them instead of looking
  /// each key up. `unchanged`, when given, names the rows whose values the build copies from a
  /// graph instead of parsing their texts (not checked either; the graph must stay alive until
  /// this returns). Throws data_error only on a broken invariant. O(cells).
  graph build(std::vector<std::vector<std::uint32_t>>* from = nullptr,
              const link_parents* parents = nullptr, const base_values* unchanged = nullptr) const {
    // The texts are read in place (`graph_builder::build_from`: no copy, parsed on all cores),
    // dead rows left out.
    struct live_slots {
      const live_rows& x;
      const link_parents* known;
      const base_values* same;
      std::size_t rows(entity_id e) const noexcept { return x.tables_[e].rows.size(); }
      std::span<const row_id> parents(entity_id e, std::uint32_t l) const noexcept {
        return known ? (*known)[e][l] : std::span<const row_id>();
      }
      const b2bseg::graph* values_from() const noexcept { return same ? same->graph : nullptr; }
      bool unchanged(entity_id e, std::size_t i) const noexcept {
        return same && e < same->changed.size() && i < same->changed[e].size() &&
               !same->changed[e][i];
      }
      const std::string* fields(entity_id e, std::size_t i) const noexcept {
        const table& t = x.tables_[e];
        return t.dead[i] ? nullptr : t.rows[i].data();
      }
      int column(entity_id e, const std::string& name) const {
        return x.layout_.entities[e].find(name);
      }
    };
    // Built under the flat schema (every entity one plain table), given the dataset's own: a
    // snapshot of it then keeps the sources, and a feed read against it names them.
    return graph_builder(flat_)
        .build_from(live_slots{*this, parents, unchanged}, {}, nullptr, from)
        .with_schema(*original_);
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

  /// Asks ahead for the memory that applying `changes` will read to look keys up (the key table
  /// slots of their keys and link values, then the rows those slots name, then the rows' keys),
  /// in three passes over them, so that applying them one after another does not wait for each
  /// cache miss in turn: at 1M people, the look-ups of a batch of events took a third of its
  /// time, three dependent misses each. Reads only; nothing it finds is used. Give it as many
  /// changes as are applied next (a few hundred: the lines must still be there when they are).
  /// O(changes).
  void prefetch(std::span<const change> changes) const {
    struct ahead {
      entity_id e;
      std::uint64_t h;
      row_id r;
    };
    std::vector<ahead> at;
    at.reserve(changes.size() * 2);
    auto ask = [&](entity_id e, std::string_view k) {
      if (!k.empty() && !sources_[e]) at.push_back({e, tables_[e].keys.home(k), no_row});
    };
    for (const change& c : changes) {
      if (c.source != ~0u || c.entity >= tables_.size()) continue;
      if (c.op == change_op::erase) {
        ask(c.entity, c.key);
        continue;
      }
      if (c.op != change_op::upsert && c.op != change_op::insert) continue;
      if (c.op == change_op::upsert) ask(c.entity, c.key);
      const auto& def = original_->entities[c.entity];
      const auto& cols = layout_.entities[c.entity];
      for (const auto& f : c.fields)
        for (std::uint32_t l = 0; l < def.links.size(); ++l)
          if (cols.link_column[l] == f.column) ask(def.links[l].target, f.value);
    }
    for (ahead& a : at) {
      a.r = tables_[a.e].keys.candidate(a.h);
      if (a.r != no_row) __builtin_prefetch(&tables_[a.e].rows[a.r]);
    }
    for (const ahead& a : at)
      if (const int key = layout_.entities[a.e].key; a.r != no_row && key >= 0)
        __builtin_prefetch(tables_[a.e].rows[a.r].data() + key);
  }

 private:
  /// The value as written of link `l` of row `r` of plain entity `e`, for a link into an entity
  /// with sources (what the row's file holds: a value of the link's namespace, or a profile
  /// key); "" when null or for any other link.
  std::string_view link_as_written(entity_id e, std::size_t r, std::uint32_t l) const {
    const int slot = raw_slot_[e][l];
    return slot < 0 ? std::string_view() : tables_[e].rows[r][static_cast<std::size_t>(slot)];
  }

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

  /// Takes back the entries of `undo` after the first `mark`, newest first.
  void rollback_to(undo_log& undo, std::size_t mark) {
    while (undo.entries.size() > mark) {
      undo_log::entry& u = undo.entries.back();
      if (u.what == undo_log::kind::now) {
        now_ = u.old_now;
      } else if (u.what == undo_log::kind::source_set) {
        sources_[u.entity]->replace(u.row, std::move(*u.old_source));
      } else if (u.what == undo_log::kind::source_appended) {
        sources_[u.entity]->pop_back();
      } else {
        auto& t = tables_[u.entity];
        const int key = layout_.entities[u.entity].key;
        if (u.what == undo_log::kind::set_field) {
          t.rows[u.row][u.column] = std::move(u.old);
        } else if (u.what == undo_log::kind::killed) {
          t.dead[u.row] = 0;
          if (key >= 0) t.keys.insert(t.rows[u.row][key], u.row, key_of(u.entity));
        } else {  // appended
          if (key >= 0)
            t.keys.erase(t.rows.back()[key], static_cast<row_id>(t.rows.size() - 1),
                         key_of(u.entity));
          t.rows.pop_back();
          t.dead.pop_back();
        }
      }
      undo.entries.pop_back();
    }
  }

  /// The key that value `raw` of link `l` of entity `e` (as written: a key, or a value of the
  /// link's namespace) resolves to now, or "" when none.
  std::string resolve_link(entity_id e, std::uint32_t l, std::string_view raw) const {
    const link_def& ld = original_->entities[e].links[l];
    return resolve_into(ld.target, ld.identity.empty() ? -1 : static_cast<int>(ld.identity_index),
                        raw);
  }
  /// The key of entity `to` that `raw` names: a key (`ns` < 0) or a value of namespace `ns`.
  std::string resolve_into(entity_id to, int ns, std::string_view raw) const {
    if (raw.empty()) return {};
    if (const auto* st = sources_[to].get()) {
      if (ns < 0) return st->has_key(raw) ? std::string(raw) : std::string();
      std::string buffer;
      const auto rule = original_->entities[to].identities[static_cast<std::size_t>(ns)].rule;
      return st->key_for(static_cast<std::uint32_t>(ns), normalize_identity(rule, raw, buffer));
    }
    return find(to, raw) != no_row ? std::string(raw) : std::string();
  }

  /// "no ENTITY with key "V"" or "no ENTITY with NS "V"": what a dangling link names.
  static std::string no_target(const std::string& to, const std::string& identity,
                               std::string_view v) {
    return "no " + to + " with " + (identity.empty() ? std::string("key ") : identity + " ") +
           detail::live::quoted(v);
  }

  /// Checks the link fields of `c`: each non-empty value a live key of the link's target (or the
  /// row's own key, for a row that links to itself).
  std::string check_links(const change& c) const {
    const auto& def = original_->entities[c.entity];
    const auto& cols = layout_.entities[c.entity];
    for (const auto& f : c.fields) {
      if (f.value.empty()) continue;
      for (std::uint32_t l = 0; l < def.links.size(); ++l) {
        if (cols.link_column[l] != f.column) continue;
        const entity_id to = def.links[l].target;
        if (find(to, f.value) != no_row) continue;
        if (to == c.entity && !c.key.empty() && f.value == c.key) continue;
        return "field '" + cols.names[f.column] + "': " + no_target(def.links[l].to, {}, f.value);
      }
    }
    return {};
  }

  /// Sets field (or slot) `col` of row `r` of `e` to `v`, logged. The caller notes the row as
  /// touched (`touch`).
  void set(entity_id e, row_id r, std::uint32_t col, std::string_view v, undo_log& undo) {
    auto& cell = tables_[e].rows[r][col];
    if (cell == v) return;
    undo.entries.push_back({undo_log::kind::set_field, e, r, col, std::move(cell), 0});
    cell.assign(v);
  }
  /// Notes that this batch set row `r` of `e` (where a child finder looks for moved children).
  void touch(entity_id e, row_id r) {
    if (finder_) touched_[e].push_back(r);
  }

  std::string upsert(const change& in, undo_log& undo) {
    const entity_id e = in.entity;
    const auto& def = original_->entities[e];
    const auto& cols = layout_.entities[e];
    // Links into an entity with sources: the value as written goes into its slot, the key it
    // resolves to into the link's field.
    const change* cp = &in;
    change resolved;
    std::vector<std::pair<std::uint32_t, std::string>> written;  // slot, value
    if (width_[e] > cols.names.size()) {
      resolved = in;
      cp = &resolved;
      for (auto& f : resolved.fields)
        for (std::uint32_t l = 0; l < def.links.size(); ++l) {
          if (raw_slot_[e][l] < 0 || cols.link_column[l] != f.column) continue;
          written.emplace_back(static_cast<std::uint32_t>(raw_slot_[e][l]), f.value);
          if (f.value.empty()) break;
          std::string k = resolve_link(e, l, f.value);
          if (k.empty())
            return "field '" + cols.names[f.column] +
                   "': " + no_target(def.links[l].to, def.links[l].identity, f.value);
          f.value = std::move(k);
          break;
        }
    }
    const change& c = *cp;
    if (auto m = check_links(c); !m.empty()) return m;
    const row_id found = c.op == change_op::upsert ? find(e, c.key) : no_row;
    if (found != no_row) {
      for (const auto& f : c.fields) set(e, found, f.column, f.value, undo);
      for (const auto& [slot, v] : written) set(e, found, slot, v, undo);
      touch(e, found);
      return {};
    }
    std::vector<std::string> row(width_[e]);
    for (const auto& f : c.fields) row[f.column] = f.value;
    for (auto& [slot, v] : written) row[slot] = std::move(v);
    append(e, std::move(row), c.op == change_op::upsert ? c.key : std::string_view(), undo);
    return {};
  }

  /// Adds `row` to `e` (under `key` unless empty), logged.
  void append(entity_id e, std::vector<std::string> row, std::string_view key, undo_log& undo) {
    auto& t = tables_[e];
    const auto r = static_cast<std::uint32_t>(t.rows.size());
    t.rows.push_back(std::move(row));
    t.dead.push_back(0);
    if (!key.empty()) t.keys.insert(key, r, key_of(e));
    undo.entries.push_back({undo_log::kind::appended, e, r, 0, {}, 0});
    touch(e, r);
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
      return "member 'key': no " + original_->entities[c.entity].name + " with key \"" + c.key +
             "\"";
    kill_and_cascade(c.entity, found, undo);
    return {};
  }

  /// Appends to `out` the rows of `ce` that may point at row `r` through link `l`: from the
  /// finder (the rows as they were when the batch began) plus the rows this batch set or added;
  /// else every row.
  void children(entity_id ce, std::uint32_t l, row_id r, std::vector<row_id>& out) const {
    if (finder_) {
      finder_(ce, l, r, out);
      out.insert(out.end(), touched_[ce].begin(), touched_[ce].end());
    } else {
      const auto n = static_cast<row_id>(tables_[ce].rows.size());
      for (row_id cr = 0; cr < n; ++cr) out.push_back(cr);
    }
  }

  /// Row `cr` of `ce` no longer points anywhere through link `l`: a keyed row's link becomes
  /// null (its value as written too); a row without a key, or whose key is that link, dies.
  void detach(entity_id ce, row_id cr, std::uint32_t l, undo_log& undo) {
    const std::uint32_t col = layout_.entities[ce].link_column[l];
    if (original_->entities[ce].key && static_cast<int>(col) != layout_.entities[ce].key) {
      set(ce, cr, col, {}, undo);
      if (raw_slot_[ce][l] >= 0)
        set(ce, cr, static_cast<std::uint32_t>(raw_slot_[ce][l]), {}, undo);
      touch(ce, cr);
    } else {
      kill_and_cascade(ce, cr, undo);
    }
  }

  /// Kills row `r` of `e`; links that pointed at it become null in rows with a key, and rows
  /// without a key (or whose key is that link) die with it, and so on down. Source rows linking
  /// to it by key (a plain `e`) lose that link, and their profiles are merged again.
  void kill_and_cascade(entity_id e, std::uint32_t r, undo_log& undo) {
    const int key_column = layout_.entities[e].key;
    const std::string key = key_column >= 0 ? tables_[e].rows[r][key_column] : std::string();
    kill(e, r, undo);
    if (key.empty()) return;  // nothing can link to a row without a key
    for (entity_id ce = 0; ce < original_->entities.size(); ++ce) {
      const auto& def = original_->entities[ce];
      auto& ct = tables_[ce];
      for (std::uint32_t l = 0; l < def.links.size(); ++l) {
        if (def.links[l].target != e) continue;
        const std::uint32_t col = layout_.entities[ce].link_column[l];
        std::vector<row_id> cands;
        children(ce, l, r, cands);
        for (row_id cr : cands)
          if (cr < ct.rows.size() && !ct.dead[cr] && ct.rows[cr][col] == key)
            detach(ce, cr, l, undo);
      }
    }
    if (!sources_[e]) null_source_links(e, {}, {key}, undo);
  }

  // --- entities with sources -------------------------------------------------------------------

  /// Sets source row `x` of `e` to `row`, logged.
  void set_source(entity_id e, std::uint32_t x, detail::live::source_row row, undo_log& undo) {
    auto old = std::make_shared<detail::live::source_row>(sources_[e]->replace(x, std::move(row)));
    undo.entries.push_back({undo_log::kind::source_set, e, x, 0, {}, 0, std::move(old)});
  }

  std::string change_source(const change& c, undo_log& undo) {
    const entity_id e = c.entity;
    auto& st = *sources_[e];
    const entity_def& def = original_->entities[e];
    const source_def& src = def.sources[c.source];
    const auto& sc = source_layout_.entities[e].sources[c.source];
    auto given = [&](std::uint32_t col) -> const std::string* {
      for (const auto& f : c.fields)
        if (f.column == col) return &f.value;
      return nullptr;
    };
    std::string buffer;
    auto normalized = [&](std::size_t j, const std::string& v) {
      return std::string(
          normalize_identity(def.identities[src.identities[j].index].rule, v, buffer));
    };
    // The rows named: those of this source holding its first identity the change gives.
    std::size_t j0 = 0;
    while (j0 < src.identities.size() &&
           (!given(sc.identity_column[j0]) || given(sc.identity_column[j0])->empty()))
      ++j0;
    if (j0 == src.identities.size()) return "the row names no identity";  // the parser's check
    const std::uint32_t ns0 = src.identities[j0].index;
    const std::string v0 = normalized(j0, *given(sc.identity_column[j0]));
    std::vector<std::uint32_t> hits;
    st.for_rows_with(ns0, v0, [&](std::uint32_t x) {
      if (st.row(x).source == c.source && st.row(x).slots[j0] == v0) hits.push_back(x);
    });
    std::sort(hits.begin(), hits.end());
    if (c.op == change_op::erase && hits.empty())
      return "field '" + sc.names[sc.identity_column[j0]] + "': no row of source '" + src.name +
             "' with " + def.identities[ns0].name + " " + detail::live::quoted(v0);
    // The change's own links must resolve.
    if (c.op == change_op::upsert)
      for (std::size_t j = 0; j < src.links.size(); ++j) {
        const std::string* v = given(sc.link_column[j]);
        if (!v || v->empty()) continue;
        const source_field& f = src.links[j];
        const link_def& ld = def.links[f.index];
        if (resolve_into(ld.target, f.identity.empty() ? -1 : static_cast<int>(f.identity_index),
                         *v)
                .empty())
          return "field '" + sc.names[sc.link_column[j]] + "': " + no_target(ld.to, f.identity, *v);
      }
    // The profiles before: those of the rows named and of the rows holding a value the change
    // gives (they may join).
    std::vector<std::uint32_t> seeds = hits;
    for (std::size_t j = 0; j < src.identities.size(); ++j)
      if (const std::string* v = given(sc.identity_column[j]); v && !v->empty())
        st.for_rows_with(src.identities[j].index, normalized(j, *v),
                         [&](std::uint32_t x) { seeds.push_back(x); });
    const std::vector<std::uint32_t> before = st.component(seeds);
    std::vector<std::string> old_keys;
    for (const auto& p : st.profiles(before)) old_keys.push_back(st.key_of(p));
    std::vector<std::pair<std::uint32_t, std::string>> old_values;
    for (std::uint32_t x : before) {
      const auto& ids = def.sources[st.row(x).source].identities;
      for (std::size_t j = 0; j < ids.size(); ++j)
        if (!st.row(x).slots[j].empty()) old_values.emplace_back(ids[j].index, st.row(x).slots[j]);
    }

    // Whether the change only adds identity values (a row added, or rows given values where
    // they had none or the same): then every profile only gains rows, and a value that resolved
    // before resolves to the same profile after.
    bool only_adds = c.op != change_op::erase;
    for (std::uint32_t x : hits)
      for (std::size_t j = 0; only_adds && j < src.identities.size(); ++j) {
        const std::string* v = given(sc.identity_column[j]);
        const std::string& was = st.row(x).slots[j];
        if (v && !was.empty() && normalized(j, *v) != was) only_adds = false;
      }

    const std::size_t mark = undo.entries.size();
    auto fill = [&](detail::live::source_row& r) {
      for (std::size_t j = 0; j < src.identities.size(); ++j)
        if (const std::string* v = given(sc.identity_column[j])) r.slots[j] = normalized(j, *v);
      for (std::size_t j = 0; j < src.attributes.size(); ++j)
        if (const std::string* v = given(sc.attribute_column[j])) {
          // A list without any element ("|") is null too, as a load reads it.
          const bool list = def.attributes[src.attributes[j].index].type == value_type::string_list;
          r.slots[st.attribute_slot(c.source, j)] =
              list && v->find_first_not_of('|') == std::string::npos ? std::string() : *v;
        }
      for (std::size_t j = 0; j < src.links.size(); ++j)
        if (const std::string* v = given(sc.link_column[j]))
          r.slots[st.link_slot(c.source, j)] = *v;
      if (sc.updated_at >= 0)
        if (const std::string* v = given(static_cast<std::uint32_t>(sc.updated_at)))
          r.has_updated = !v->empty() && parse_timestamp(*v, r.updated);
    };
    if (c.op == change_op::erase) {
      for (std::uint32_t x : hits) {
        detail::live::source_row r = st.row(x);
        r.dead = true;
        set_source(e, x, std::move(r), undo);
      }
    } else if (hits.empty()) {
      detail::live::source_row r;
      r.source = c.source;
      r.seq = st.next_seq();
      r.slots.assign(st.width(c.source), {});
      fill(r);
      hits.push_back(st.append(std::move(r)));
      undo.entries.push_back({undo_log::kind::source_appended, e, hits.back(), 0, {}, 0});
    } else {
      for (std::uint32_t x : hits) {
        detail::live::source_row r = st.row(x);
        fill(r);
        set_source(e, x, std::move(r), undo);
      }
    }
    std::vector<std::uint32_t> start = before;
    start.insert(start.end(), hits.begin(), hits.end());
    const auto profiles = st.profiles(st.component(start));
    for (const auto& p : profiles)
      if (p.size() > def.max_rows_per_profile) {
        rollback_to(undo, mark);
        return "a profile of " + def.name + " would merge " + std::to_string(p.size()) +
               " source rows, more than max_rows_per_profile (" +
               std::to_string(def.max_rows_per_profile) + ")";
      }
    settle(e, old_keys, old_values, profiles, undo, only_adds);
    return {};
  }

  /// The profile made of source rows `rows` of `e` merged (SPEC 2.3) into its row: created, or
  /// updated field by field. Returns its key.
  std::string put_profile(entity_id e, std::vector<std::uint32_t> rows, undo_log& undo) {
    const auto& st = *sources_[e];
    const entity_def& def = original_->entities[e];
    const auto& cols = layout_.entities[e];
    std::string key = st.key_of(rows);
    st.rank(rows);
    std::vector<std::string> values(width_[e]);
    values[static_cast<std::size_t>(cols.key)] = key;
    for (std::uint32_t x : rows) {
      const auto k = st.row(x).source;
      const source_def& src = def.sources[k];
      for (std::size_t j = 0; j < src.attributes.size(); ++j) {
        std::string& v = values[cols.attribute_column[src.attributes[j].index]];
        if (v.empty()) v = st.row(x).slots[st.attribute_slot(k, j)];
      }
      for (std::size_t j = 0; j < src.links.size(); ++j) {
        const source_field& f = src.links[j];
        std::string& v = values[cols.link_column[f.index]];
        if (!v.empty()) continue;
        v = resolve_into(def.links[f.index].target,
                         f.identity.empty() ? -1 : static_cast<int>(f.identity_index),
                         st.row(x).slots[st.link_slot(k, j)]);
      }
    }
    const row_id found = find(e, key);
    if (found == no_row) {
      append(e, std::move(values), key, undo);
    } else {
      for (std::uint32_t col = 0; col < cols.names.size(); ++col)
        set(e, found, col, values[col], undo);
      touch(e, found);
    }
    return key;
  }

  /// Source rows of entities with sources that link to `e` with one of `values` (namespace,
  /// value) or `keys` as written: a value that no longer resolves becomes null, and their
  /// profiles are merged again.
  void null_source_links(entity_id e,
                         const std::vector<std::pair<std::uint32_t, std::string>>& values,
                         const std::vector<std::string>& keys, undo_log& undo) {
    for (entity_id ce = 0; ce < original_->entities.size(); ++ce) {
      if (!sources_[ce]) continue;
      auto& st = *sources_[ce];
      const entity_def& def = original_->entities[ce];
      std::vector<std::uint32_t> found;
      for (std::uint32_t l = 0; l < def.links.size(); ++l) {
        if (def.links[l].target != e) continue;
        for (const auto& v : values)
          st.for_rows_linking(l, v.second, [&](std::uint32_t x) { found.push_back(x); });
        for (const auto& k : keys)
          st.for_rows_linking(l, k, [&](std::uint32_t x) { found.push_back(x); });
      }
      if (found.empty()) continue;
      std::sort(found.begin(), found.end());
      found.erase(std::unique(found.begin(), found.end()), found.end());
      for (std::uint32_t x : found) {
        const source_def& src = def.sources[st.row(x).source];
        detail::live::source_row r = st.row(x);
        bool changed = false;
        for (std::size_t j = 0; j < src.links.size(); ++j) {
          const source_field& f = src.links[j];
          std::string& v = r.slots[st.link_slot(r.source, j)];
          if (def.links[f.index].target != e || v.empty()) continue;
          if (!resolve_into(e, f.identity.empty() ? -1 : static_cast<int>(f.identity_index), v)
                   .empty())
            continue;
          v.clear();
          changed = true;
        }
        if (changed) set_source(ce, x, std::move(r), undo);
      }
      for (const auto& p : st.profiles(st.component(found))) put_profile(ce, p, undo);
    }
  }

  /// After source rows of `e` changed: the profiles `profiles` (made of the rows that were in
  /// the profiles keyed `old_keys`, whose identity values were `old_values`, or joined them) are
  /// written, rows linking into the old ones follow their values, and profiles whose key went
  /// are deleted (SPEC 2.4's cascade for what no longer resolves). When the change `only_adds`
  /// identity values and the keys are the ones before, no profile merged with another, split or
  /// changed its key: every link value resolves as before, and only the profiles are written
  /// (the common case, an update of a row's attributes, costs no walk over the profile's
  /// children).
  void settle(entity_id e, const std::vector<std::string>& old_keys,
              const std::vector<std::pair<std::uint32_t, std::string>>& old_values,
              const std::vector<std::vector<std::uint32_t>>& profiles, undo_log& undo,
              bool only_adds) {
    std::vector<std::string> new_keys;
    for (const auto& p : profiles) new_keys.push_back(put_profile(e, p, undo));
    if (only_adds && new_keys.size() == old_keys.size()) {
      std::vector<std::string> a = old_keys, b = new_keys;
      std::sort(a.begin(), a.end());
      std::sort(b.begin(), b.end());
      if (a == b) return;
    }
    null_source_links(e, old_values, old_keys, undo);
    for (const std::string& k : old_keys) {
      const row_id pr = find(e, k);
      if (pr == no_row) continue;
      const bool stays = std::find(new_keys.begin(), new_keys.end(), k) != new_keys.end();
      for (entity_id ce = 0; ce < original_->entities.size(); ++ce) {
        if (sources_[ce]) continue;  // merged again above
        const auto& def = original_->entities[ce];
        for (std::uint32_t l = 0; l < def.links.size(); ++l) {
          if (def.links[l].target != e) continue;
          const std::uint32_t col = layout_.entities[ce].link_column[l];
          std::vector<row_id> cands;
          children(ce, l, pr, cands);
          std::sort(cands.begin(), cands.end());
          cands.erase(std::unique(cands.begin(), cands.end()), cands.end());
          for (row_id cr : cands) {
            const auto& t = tables_[ce];
            if (cr >= t.rows.size() || t.dead[cr] || t.rows[cr][col] != k) continue;
            const std::string now = resolve_link(ce, l, link_as_written(ce, cr, l));
            if (now == k) continue;
            if (!now.empty()) {
              set(ce, cr, col, now, undo);
              touch(ce, cr);
            } else if (stays) {
              detach(ce, cr, l, undo);
            }  // else: the delete below detaches it
          }
        }
      }
    }
    for (const std::string& k : old_keys)
      if (std::find(new_keys.begin(), new_keys.end(), k) == new_keys.end())
        if (const row_id pr = find(e, k); pr != no_row) kill_and_cascade(e, pr, undo);
  }

  std::shared_ptr<const b2bseg::schema> original_;  ///< the dataset's; shared with source tables
  b2bseg::schema flat_;
  row_layout layout_;                           ///< of flat_
  row_layout source_layout_{b2bseg::schema{}};  ///< of *original_: the sources' columns
  std::vector<table> tables_;
  /// Per entity: its source rows (an entity with sources), shared with a compaction's rows.
  std::vector<std::shared_ptr<detail::live::source_table>> sources_;
  std::vector<std::vector<int>> raw_slot_;  ///< per entity, link: slot of the value as written
  /// Per entity with sources, while the start is read: each source row's profile as a row of
  /// the graph read (`check_profiles`); empty afterwards.
  std::vector<std::vector<row_id>> start_row_;
  std::vector<std::size_t> width_;  ///< per entity: texts per row (columns + slots)
  timestamp_us now_ = 0;
  child_finder finder_;
  std::vector<std::vector<row_id>> touched_;  ///< per entity: rows set or added this batch
};

}  // namespace b2bseg
