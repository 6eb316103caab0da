// The source rows of a live entity with sources (SPEC 2.3, 2.4): what a graph does not keep (it
// holds the merged profiles only), indexed by identity value so that a changed row's profile is
// found and re-resolved without touching any other.
#pragma once

#include <algorithm>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "b2bseg/identity/resolve.hpp"
#include "b2bseg/load/dataset.hpp"
#include "b2bseg/storage/graph.hpp"

namespace b2bseg::detail::live {

/// One source row: its slots in the source's order (identities normalized, attributes as
/// written, links as written; empty is null), its `updated_at`, and `seq`, its place among the
/// rows of the entity (source order, then file order; rows a feed adds come after).
struct source_row {
  std::vector<std::string> slots;
  std::uint64_t seq = 0;
  std::int64_t updated = 0;
  std::uint32_t source = 0;
  bool has_updated = false;
  bool dead = false;
};

/// The source rows of one entity with sources, live ones indexed by identity value and by link
/// value. A profile is a connected component of rows sharing an identity value (found by a
/// search from any of its rows: O(its rows x identities)); its key, ranking and merged values
/// follow SPEC 2.3 exactly as `load_dataset` computes them. Memory: the rows' texts and about
/// 40 bytes per identity or link value. Not thread-safe.
class source_table {
 public:
  /// The rows of entity `e` of `s` (kept alive by the table), none yet.
  source_table(std::shared_ptr<const schema> s, entity_id e)
      : schema_(std::move(s)), def_(&schema_->entities[e]) {}

  const entity_def& def() const noexcept { return *def_; }
  std::size_t size() const noexcept { return rows_.size(); }
  const source_row& row(std::uint32_t i) const noexcept { return rows_[i]; }
  std::uint64_t next_seq() const noexcept { return next_seq_; }

  /// Slot of source `k`'s attribute j, link j (identity j is slot j).
  std::size_t attribute_slot(std::uint32_t k, std::size_t j) const noexcept {
    return def_->sources[k].identities.size() + j;
  }
  std::size_t link_slot(std::uint32_t k, std::size_t j) const noexcept {
    return def_->sources[k].identities.size() + def_->sources[k].attributes.size() + j;
  }
  std::size_t width(std::uint32_t k) const noexcept {
    const auto& src = def_->sources[k];
    return src.identities.size() + src.attributes.size() + src.links.size();
  }

  /// Room for `rows` rows and their identity and link values, so that reading a table does not
  /// rehash its indexes as it grows.
  void reserve(std::size_t rows) {
    rows_.reserve(rows);
    std::size_t ids = 0, links = 0;
    for (const auto& src : def_->sources) {
      ids = std::max(ids, src.identities.size());
      links = std::max(links, src.links.size());
    }
    ids_.reserve(rows * ids);
    links_.reserve(rows * links);
  }
  /// Adds `r` (live) at the end and indexes it; returns its index.
  std::uint32_t append(source_row r) {
    next_seq_ = std::max(next_seq_, r.seq + 1);
    rows_.push_back(std::move(r));
    const auto i = static_cast<std::uint32_t>(rows_.size() - 1);
    index(i, true);
    return i;
  }
  /// Numbers the rows appended from now on from `seq` at least (the place in the merge order that
  /// rows a feed adds take after those saved in a snapshot).
  void reserve_seq(std::uint64_t seq) noexcept { next_seq_ = std::max(next_seq_, seq); }
  /// Removes the last row (taking back an append).
  void pop_back() {
    index(static_cast<std::uint32_t>(rows_.size() - 1), false);
    rows_.pop_back();
  }
  /// Replaces row `i` by `r`; returns what it was. O(1) index work when `r` keeps the row's
  /// identity and link values (an update of attributes), else O(rows sharing its values).
  source_row replace(std::uint32_t i, source_row r) {
    const source_row& was = rows_[i];
    bool same = was.dead == r.dead && was.source == r.source && was.slots.size() == r.slots.size();
    if (same) {
      const auto& src = def_->sources[r.source];
      for (std::size_t j = 0; same && j < src.identities.size(); ++j)
        same = was.slots[j] == r.slots[j];
      for (std::size_t j = 0; same && j < src.links.size(); ++j)
        same = was.slots[link_slot(r.source, j)] == r.slots[link_slot(r.source, j)];
    }
    if (same) {
      std::swap(rows_[i], r);
      return r;
    }
    index(i, false);
    std::swap(rows_[i], r);
    index(i, true);
    return r;
  }

  /// The value of namespace `ns` in row `i` from its source's slots, or an empty view.
  std::string_view identity(std::uint32_t i, std::uint32_t ns) const noexcept {
    const source_row& r = rows_[i];
    const auto& ids = def_->sources[r.source].identities;
    for (std::size_t j = 0; j < ids.size(); ++j)
      if (ids[j].index == ns) return r.slots[j];
    return {};
  }

  /// Calls `f(row)` for each live row holding normalized value `v` in namespace `ns`.
  template <class F>
  void for_rows_with(std::uint32_t ns, std::string_view v, F f) const {
    auto [a, b] = ids_.equal_range(identity_hash(ns, v));
    for (; a != b; ++a)
      if (identity(a->second, ns) == v) f(a->second);
  }

  /// Calls `f(row)` for each live row whose link `l` (an index in the entity's links) may hold
  /// `v` (normalized by the target's rule when the source names a namespace): a superset.
  template <class F>
  void for_rows_linking(std::uint32_t l, std::string_view v, F f) const {
    auto [a, b] = links_.equal_range(identity_hash(l, v));
    for (; a != b; ++a) f(a->second);
  }

  /// The live rows of the profiles of the live rows in `start`, sorted. O(their rows x values).
  std::vector<std::uint32_t> component(const std::vector<std::uint32_t>& start) const {
    std::vector<std::uint32_t> out;
    std::unordered_set<std::uint32_t> seen;
    for (std::uint32_t s : start)
      if (!rows_[s].dead && seen.insert(s).second) out.push_back(s);
    for (std::size_t i = 0; i < out.size(); ++i) {
      const source_row& r = rows_[out[i]];
      const auto& ids = def_->sources[r.source].identities;
      for (std::size_t j = 0; j < ids.size(); ++j) {
        if (r.slots[j].empty()) continue;
        for_rows_with(ids[j].index, r.slots[j], [&](std::uint32_t x) {
          if (seen.insert(x).second) out.push_back(x);
        });
      }
    }
    std::sort(out.begin(), out.end());
    return out;
  }

  /// Splits the live rows `rows` (closed under sharing values) into profiles.
  std::vector<std::vector<std::uint32_t>> profiles(std::vector<std::uint32_t> rows) const {
    std::vector<std::vector<std::uint32_t>> out;
    std::sort(rows.begin(), rows.end());
    std::vector<std::uint8_t> done(rows.size(), 0);
    for (std::size_t i = 0; i < rows.size(); ++i) {
      if (done[i]) continue;
      out.push_back(component({rows[i]}));
      for (std::uint32_t x : out.back()) {
        auto it = std::lower_bound(rows.begin(), rows.end(), x);
        if (it != rows.end() && *it == x) done[static_cast<std::size_t>(it - rows.begin())] = 1;
      }
    }
    return out;
  }

  /// The key of the profile made of `rows` (SPEC 2.3): "NS:VALUE" for the first namespace in
  /// the entity's order that it has, with its smallest value by bytes.
  std::string key_of(const std::vector<std::uint32_t>& rows) const {
    std::uint32_t best_ns = ~0u;
    std::string_view best;
    for (std::uint32_t i : rows) {
      const source_row& r = rows_[i];
      const auto& ids = def_->sources[r.source].identities;
      for (std::size_t j = 0; j < ids.size(); ++j) {
        const std::string_view v = r.slots[j];
        if (v.empty() || ids[j].index > best_ns || (ids[j].index == best_ns && v >= best)) continue;
        best_ns = ids[j].index;
        best = v;
      }
    }
    if (best_ns == ~0u) return {};
    return def_->identities[best_ns].name + ":" + std::string(best);
  }

  /// The key of the profile holding normalized value `v` of namespace `ns`, or "".
  std::string key_for(std::uint32_t ns, std::string_view v) const {
    std::vector<std::uint32_t> start;
    for_rows_with(ns, v, [&](std::uint32_t x) { start.push_back(x); });
    if (start.empty()) return {};
    return key_of(component(start));
  }

  /// True when `key` ("NS:VALUE") is the key of a profile.
  bool has_key(std::string_view key) const {
    const std::size_t colon = key.find(':');
    if (colon == std::string_view::npos) return false;
    const int ns = def_->find_identity(key.substr(0, colon));
    return ns >= 0 && key_for(static_cast<std::uint32_t>(ns), key.substr(colon + 1)) == key;
  }

  /// Orders the rows of one profile best first (SPEC 2.3's merge policy; ties: later line first).
  void rank(std::vector<std::uint32_t>& rows) const {
    const bool latest = def_->merge == merge_policy::latest;
    std::sort(rows.begin(), rows.end(), [&](std::uint32_t a, std::uint32_t b) {
      const source_row &x = rows_[a], &y = rows_[b];
      if (!latest && x.source != y.source) return x.source < y.source;
      if (x.has_updated != y.has_updated) return x.has_updated > y.has_updated;
      if (x.has_updated && x.updated != y.updated) return x.updated > y.updated;
      if (x.source != y.source) return x.source < y.source;
      return x.seq > y.seq;
    });
  }

  /// The value of link slot `j` of row `i` as the link index holds it: normalized by the
  /// target's rule when the source names a namespace of `target`.
  std::string link_value(std::uint32_t i, std::size_t j) const {
    const source_row& r = rows_[i];
    const source_field& f = def_->sources[r.source].links[j];
    const std::string& v = r.slots[link_slot(r.source, j)];
    if (f.identity.empty() || v.empty()) return v;
    const entity_def& target = schema_->entities[def_->links[f.index].target];
    std::string buffer;
    return std::string(normalize_identity(target.identities[f.identity_index].rule, v, buffer));
  }

 private:
  void index(std::uint32_t i, bool add) {
    const source_row& r = rows_[i];
    if (r.dead) return;
    const auto& src = def_->sources[r.source];
    auto edit = [&](std::unordered_multimap<std::uint64_t, std::uint32_t>& m, std::uint64_t h) {
      if (add) {
        m.emplace(h, i);
        return;
      }
      auto [a, b] = m.equal_range(h);
      for (; a != b; ++a)
        if (a->second == i) {
          m.erase(a);
          return;
        }
    };
    for (std::size_t j = 0; j < src.identities.size(); ++j)
      if (!r.slots[j].empty()) edit(ids_, identity_hash(src.identities[j].index, r.slots[j]));
    for (std::size_t j = 0; j < src.links.size(); ++j) {
      const std::uint32_t l = src.links[j].index;
      const std::string v = link_value(i, j);
      if (!v.empty()) edit(links_, identity_hash(l, v));
    }
  }

  std::shared_ptr<const schema> schema_;
  const entity_def* def_;
  std::vector<source_row> rows_;
  std::unordered_multimap<std::uint64_t, std::uint32_t> ids_;    // hash(ns, value) -> row
  std::unordered_multimap<std::uint64_t, std::uint32_t> links_;  // hash(link, value) -> row
  std::uint64_t next_seq_ = 0;
};

/// Reads the source rows of resolved entity `e` of `s` again from dataset folder `dir`, checked
/// and normalized as `load_dataset` read them (rows it dropped in a lenient load left out).
/// Throws data_error as a load does.
inline source_table read_source_table(const std::shared_ptr<const schema>& sp, entity_id e,
                                      const std::string& dir, bool lenient) {
  const schema& s = *sp;
  namespace fs = std::filesystem;
  const std::string schema_path = (fs::path(dir) / "schema.json").string();
  const std::vector<std::string> paths = entity_files(dir, schema_path, s.entities[e]);
  load_options o;
  o.lenient = lenient;
  load_report rep;
  resolved_entity r;
  read_sources(s, e, paths, o, rep, r, false);
  source_table t(sp, e);
  t.reserve(r.res.order.size());
  for (std::size_t p = 0; p < r.res.profiles(); ++p) {
    if (r.kept_index[p] == ~0u) continue;  // an oversized profile a lenient load dropped
    for (std::uint32_t i = r.res.starts[p]; i < r.res.starts[p + 1]; ++i) {
      const std::uint32_t g = r.res.order[i];
      source_row row;
      row.source = r.source_of[g];
      const std::size_t w = r.sources[row.source].width;
      row.slots.reserve(w);
      for (std::size_t j = 0; j < w; ++j) row.slots.emplace_back(r.row_fields[g][j].view());
      row.seq = g;
      row.updated = r.updated[g];
      row.has_updated = r.has_updated[g] != 0;
      t.append(std::move(row));
    }
  }
  return t;
}

}  // namespace b2bseg::detail::live
