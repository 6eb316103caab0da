// A naive reference of identity resolution (SPEC 2.3) over tables held in memory: plain maps, a
// simple union-find, one row at a time. Slow and obviously correct, so that the loader's resolved
// profiles can be checked against it. Its output is a dump in the format of
// tests/support/graph_dump.hpp, so `dump(load_dataset(dir))` compares with it string for string.
// Typed values are parsed with the library's own parsers: the reference is independent in the
// resolution, not in value parsing.
#pragma once

#include <algorithm>
#include <cstddef>
#include <map>
#include <optional>
#include <set>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "b2bseg/common/parse.hpp"
#include "b2bseg/common/types.hpp"

namespace b2bseg::test_support {

// --- the data, as the schema and the CSV files hold it -----------------------------------------

/// One CSV file in memory: its header and its data rows (fields in header order), in file order.
struct ref_table {
  std::string file;                            ///< path inside the dataset folder
  std::vector<std::string> header;             ///< column names, in file order
  std::vector<std::vector<std::string>> rows;  ///< data rows, in file order
  /// Per row, a name that survives shuffles (the row's number at generation); empty: the index.
  std::vector<std::size_t> origin;

  /// Index of column `name` in the header, or -1.
  int column(const std::string& name) const {
    for (std::size_t i = 0; i < header.size(); ++i)
      if (header[i] == name) return static_cast<int>(i);
    return -1;
  }
  /// The field of row `r` in column `name` ("" when the header lacks it: callers check first).
  std::string field(std::size_t r, const std::string& name) const {
    const int c = column(name);
    return c < 0 ? std::string() : rows[r][static_cast<std::size_t>(c)];
  }
  std::size_t origin_of(std::size_t r) const { return origin.empty() ? r : origin[r]; }
};

/// Where a link's values come from: a column holding the target's key, or (with `identity`) a
/// value of that identity namespace of the target.
struct ref_link_map {
  std::string column;
  std::string identity;  ///< empty: the column holds the target's key
};

/// One source of a resolved entity: its file and which columns feed which identities,
/// attributes and links (any subset), and its `updated_at` column.
struct ref_source {
  std::string name;
  ref_table table;
  std::vector<std::pair<std::string, std::string>> identities;  ///< namespace -> column
  std::vector<std::pair<std::string, std::string>> attributes;  ///< attribute -> column
  std::vector<std::pair<std::string, ref_link_map>> links;      ///< link -> column (+ identity)
  std::string updated_at;                                       ///< column; empty: none
};

struct ref_attr {
  std::string name;
  value_type type = value_type::string;
  std::string column;  ///< plain entities only
};

struct ref_link {
  std::string name, to, reverse;
  ref_link_map map;  ///< plain entities only (a resolved entity's sources map their own)
};

/// An entity: plain (one table) or resolved (`sources` not empty).
struct ref_entity {
  std::string name;
  std::string key;  ///< plain: the key column (empty: no key); resolved: the key's output name
  /// Resolved: namespaces in order of preference, each with its rule ("exact" or "email").
  std::vector<std::pair<std::string, std::string>> identities;
  std::vector<ref_attr> attributes;
  std::vector<ref_link> links;
  std::string merge = "priority";  ///< "priority" or "latest"
  std::size_t max_rows_per_profile = 50;
  bool write_merge = true;      ///< false: schema.json leaves `merge` out (the default applies)
  bool write_max_rows = false;  ///< true: schema.json names `max_rows_per_profile`
  std::vector<ref_source> sources;
  ref_table table;  ///< plain entities
  bool resolved() const { return !sources.empty(); }
};

struct ref_dataset {
  std::vector<ref_entity> entities;  ///< in schema order
  const ref_entity* find(const std::string& name) const {
    for (const auto& e : entities)
      if (e.name == name) return &e;
    return nullptr;
  }
};

// --- the reference ---------------------------------------------------------------------------

/// What the reference finds wrong where the loader must fail (a strict load).
class ref_error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

/// SPEC 2.3 normalization: `exact` keeps the value; `email` removes leading and trailing ASCII
/// whitespace and lower-cases ASCII letters.
inline std::string ref_normalize(const std::string& rule, const std::string& v) {
  if (rule == "exact") return v;
  if (rule != "email") throw ref_error("unknown normalization '" + rule + "'");
  auto space = [](char c) {
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
  };
  std::size_t b = 0, e = v.size();
  while (b < e && space(v[b])) ++b;
  while (e > b && space(v[e - 1])) --e;
  std::string out = v.substr(b, e - b);
  for (char& c : out)
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  return out;
}

/// The text graph_dump.hpp's value_text gives a non-null value of type `t` read from `raw`
/// (non-empty); nullopt when `raw` holds no value: a string[] of only separators is an empty
/// list, null by SPEC 3.2 (whether such a field counts as null when merging is not settled: the
/// random data never holds one). Throws ref_error on a bad value.
inline std::optional<std::string> ref_value_text(value_type t, const std::string& raw) {
  auto bad = [&]() -> std::optional<std::string> {
    throw ref_error("bad " + std::string(to_string(t)) + " value '" + raw + "'");
  };
  switch (t) {
    case value_type::integer: {
      std::int64_t x = 0;
      if (!parse_int64(raw, x)) return bad();
      return std::to_string(x);
    }
    case value_type::timestamp: {
      timestamp_us x = 0;
      if (!parse_timestamp(raw, x)) return bad();
      return format_timestamp(x);
    }
    case value_type::floating: {
      double x = 0;
      if (!parse_double(raw, x)) return bad();
      return std::to_string(x);
    }
    case value_type::boolean: {
      bool x = false;
      if (!parse_bool(raw, x)) return bad();
      return x ? "true" : "false";
    }
    case value_type::string:
      return "'" + raw + "'";
    case value_type::string_list: {
      std::set<std::string> items;  // distinct, sorted by bytes
      std::string cur;
      for (char c : raw + "|") {
        if (c != '|') {
          cur += c;
          continue;
        }
        if (!cur.empty()) items.insert(cur);
        cur.clear();
      }
      if (items.empty()) return std::nullopt;
      std::string s = "[";
      for (const auto& i : items) s += i + "|";
      return s + "]";
    }
  }
  return bad();
}

/// One profile of a resolved entity.
struct ref_profile {
  std::string key;  ///< NAMESPACE:VALUE
  /// Its rows as (source index, row index), ranked by the merge policy (first wins).
  std::vector<std::pair<std::size_t, std::size_t>> rows;
  /// Its rows named "SOURCE#ORIGIN", sorted: comparable across row shuffles.
  std::vector<std::string> members;
};

/// The result of the reference on a whole dataset.
struct ref_result {
  std::string dump;  ///< graph_dump.hpp's format
  /// Per resolved entity: its profiles, sorted by key.
  std::map<std::string, std::vector<ref_profile>> profiles;
  std::size_t rows_without_identity = 0;  ///< lenient: dropped
  std::size_t oversized_profiles = 0;     ///< lenient: dropped whole
  std::size_t oversized_rows = 0;         ///< lenient: rows of the dropped profiles
  std::size_t dangling_links = 0;         ///< lenient: links to nothing (or to a dropped profile)
};

namespace detail_ref {

/// A resolved entity's identities: which profile each (namespace, normalized value) is in.
struct resolved_index {
  std::vector<ref_profile> profiles;                                    // by key
  std::map<std::pair<std::string, std::string>, std::size_t> by_value;  // -> profile
  std::map<std::string, std::size_t> by_key;                            // -> profile
  /// Values (namespace, normalized) of dropped profiles: links to them become null.
  std::set<std::pair<std::string, std::string>> dropped_values;
};

/// A union-find as plain as it gets: parent pointers, halving on find.
struct union_find {
  std::vector<std::size_t> parent;
  explicit union_find(std::size_t n) : parent(n) {
    for (std::size_t i = 0; i < n; ++i) parent[i] = i;
  }
  std::size_t find(std::size_t x) {
    while (parent[x] != x) x = parent[x] = parent[parent[x]];
    return x;
  }
  void unite(std::size_t a, std::size_t b) {
    a = find(a);
    b = find(b);
    if (a != b) parent[std::max(a, b)] = std::min(a, b);
  }
};

inline std::string rule_of(const ref_entity& e, const std::string& ns) {
  for (const auto& [n, rule] : e.identities)
    if (n == ns) return rule;
  throw ref_error("entity " + e.name + " has no identity namespace '" + ns + "'");
}

/// Step 1 of SPEC 2.3 for one entity: rows joined by shared identities, keys, ranks.
inline resolved_index resolve_identities(const ref_entity& e, bool lenient, ref_result& out) {
  struct row {
    std::size_t source, index;
    std::vector<std::pair<std::string, std::string>> ids;  // (namespace, normalized value)
    bool has_time = false;
    timestamp_us time = 0;
  };
  std::vector<row> rows;
  for (std::size_t s = 0; s < e.sources.size(); ++s) {
    const ref_source& src = e.sources[s];
    for (std::size_t i = 0; i < src.table.rows.size(); ++i) {
      row r{s, i, {}, false, 0};
      for (const auto& [ns, col] : src.identities) {
        const std::string v = src.table.field(i, col);
        if (!v.empty()) r.ids.emplace_back(ns, ref_normalize(rule_of(e, ns), v));
      }
      if (r.ids.empty()) {
        if (!lenient)
          throw ref_error(src.table.file + ": row " + std::to_string(i) + " has no identity");
        ++out.rows_without_identity;
        continue;
      }
      if (!src.updated_at.empty()) {
        const std::string t = src.table.field(i, src.updated_at);
        if (!t.empty()) {
          r.has_time = parse_timestamp(t, r.time);
          // A bad value is an error; lenient: null, so the row ranks as one without updated_at.
          if (!r.has_time && !lenient) throw ref_error("bad updated_at '" + t + "'");
        }
      }
      rows.push_back(std::move(r));
    }
  }
  // Rows sharing a (namespace, value) are one profile, transitively.
  union_find uf(rows.size());
  std::map<std::pair<std::string, std::string>, std::size_t> first_row;
  for (std::size_t i = 0; i < rows.size(); ++i)
    for (const auto& id : rows[i].ids) {
      auto [it, fresh] = first_row.emplace(id, i);
      if (!fresh) uf.unite(it->second, i);
    }
  std::map<std::size_t, std::vector<std::size_t>> groups;  // root -> rows
  for (std::size_t i = 0; i < rows.size(); ++i) groups[uf.find(i)].push_back(i);

  const bool latest = e.merge == "latest";
  if (e.merge != "latest" && e.merge != "priority") throw ref_error("bad merge '" + e.merge + "'");
  // True when row a ranks before row b.
  auto before = [&](const row& a, const row& b) {
    if (!latest && a.source != b.source) return a.source < b.source;
    if (a.has_time != b.has_time) return a.has_time;
    if (a.has_time && a.time != b.time) return a.time > b.time;
    if (a.source != b.source) return a.source < b.source;
    return a.index > b.index;  // later line first
  };

  resolved_index idx;
  for (auto& [root, members] : groups) {
    if (members.size() > e.max_rows_per_profile) {
      // The identity value shared by the most rows (ties: the smallest (namespace, value)).
      std::map<std::pair<std::string, std::string>, std::size_t> count;
      for (std::size_t m : members)
        for (const auto& id : rows[m].ids) ++count[id];
      std::pair<std::string, std::string> most;
      std::size_t best = 0;
      for (const auto& [id, n] : count)
        if (n > best) {
          best = n;
          most = id;
        }
      if (!lenient)
        throw ref_error("entity " + e.name + ": a profile of " + std::to_string(members.size()) +
                        " rows, '" + most.second + "' in " + most.first + " shared by " +
                        std::to_string(best));
      ++out.oversized_profiles;
      out.oversized_rows += members.size();
      for (std::size_t m : members)
        for (const auto& id : rows[m].ids) idx.dropped_values.insert(id);
      continue;
    }
    ref_profile p;
    // The key: the first namespace in `identities` order the profile has, smallest value.
    for (const auto& [ns, rule] : e.identities) {
      std::optional<std::string> smallest;
      for (std::size_t m : members)
        for (const auto& [n, v] : rows[m].ids)
          if (n == ns && (!smallest || v < *smallest)) smallest = v;
      if (smallest) {
        p.key = ns + ":" + *smallest;
        break;
      }
    }
    std::vector<std::size_t> ranked = members;
    std::sort(ranked.begin(), ranked.end(),
              [&](std::size_t a, std::size_t b) { return before(rows[a], rows[b]); });
    for (std::size_t m : ranked) {
      p.rows.emplace_back(rows[m].source, rows[m].index);
      const ref_source& src = e.sources[rows[m].source];
      p.members.push_back(src.name + "#" + std::to_string(src.table.origin_of(rows[m].index)));
    }
    std::sort(p.members.begin(), p.members.end());
    idx.profiles.push_back(std::move(p));
  }
  std::sort(idx.profiles.begin(), idx.profiles.end(),
            [](const ref_profile& a, const ref_profile& b) { return a.key < b.key; });
  for (std::size_t k = 0; k < idx.profiles.size(); ++k) {
    if (!idx.by_key.emplace(idx.profiles[k].key, k).second)
      throw ref_error("two profiles with key " + idx.profiles[k].key);  // cannot happen
    for (const auto& [s, i] : idx.profiles[k].rows)
      for (const auto& [ns, col] : e.sources[s].identities) {
        const std::string v = e.sources[s].table.field(i, col);
        if (!v.empty()) idx.by_value[{ns, ref_normalize(rule_of(e, ns), v)}] = k;
      }
  }
  return idx;
}

}  // namespace detail_ref

/// Runs SPEC 2.1-2.3 on `ds`: resolves every entity with sources into profiles, merges their
/// values, resolves every link, and dumps the result like graph_dump.hpp's dump(). Throws
/// ref_error where a strict load must fail; `lenient` drops rows without identity and oversized
/// profiles and turns links to nothing into nulls, counting each.
inline ref_result resolve_reference(const ref_dataset& ds, bool lenient = false) {
  ref_result out;
  std::map<std::string, detail_ref::resolved_index> resolved;
  std::map<std::string, std::set<std::string>> plain_keys;
  for (const ref_entity& e : ds.entities) {
    if (e.resolved()) {
      resolved[e.name] = detail_ref::resolve_identities(e, lenient, out);
    } else if (!e.key.empty()) {
      auto& keys = plain_keys[e.name];
      for (std::size_t i = 0; i < e.table.rows.size(); ++i)
        if (!keys.insert(e.table.field(i, e.key)).second)
          throw ref_error(e.table.file + ": duplicate key " + e.table.field(i, e.key));
    }
  }

  // The key of the target of link `l` for a non-empty value `v`; nullopt when it dangles.
  auto target_key = [&](const ref_link& l, const ref_link_map& m,
                        const std::string& v) -> std::optional<std::string> {
    const ref_entity* t = ds.find(l.to);
    if (!t) throw ref_error("link " + l.name + " to unknown entity " + l.to);
    std::optional<std::string> found;
    bool dropped = false;
    if (t->resolved()) {
      const auto& idx = resolved.at(t->name);
      if (!m.identity.empty()) {
        const std::pair<std::string, std::string> id{
            m.identity, ref_normalize(detail_ref::rule_of(*t, m.identity), v)};
        auto it = idx.by_value.find(id);
        if (it != idx.by_value.end()) found = idx.profiles[it->second].key;
        dropped = idx.dropped_values.count(id) > 0;
      } else {
        if (idx.by_key.count(v)) found = v;
      }
    } else {
      if (!m.identity.empty()) throw ref_error("identity link to plain entity " + t->name);
      if (plain_keys[t->name].count(v)) found = v;
    }
    if (!found) {
      if (!lenient && !dropped)
        throw ref_error("link " + l.name + ": no " + l.to + " with " +
                        (m.identity.empty() ? "key" : m.identity) + " '" + v + "'");
      ++out.dangling_links;
    }
    return found;
  };

  // A value's text; a bad value is an error, lenient: null.
  auto value_text = [&](value_type t, const std::string& raw) -> std::optional<std::string> {
    try {
      return ref_value_text(t, raw);
    } catch (const ref_error&) {
      if (!lenient) throw;
      return std::nullopt;
    }
  };

  std::vector<std::string> lines;
  for (const ref_entity& e : ds.entities) {
    if (e.resolved()) {
      const auto& idx = resolved.at(e.name);
      for (const ref_profile& p : idx.profiles) {
        std::string line = e.name + " " + p.key;
        for (const ref_attr& a : e.attributes) {
          std::optional<std::string> value;
          // The first ranked row where the attribute is not null; lenient, a bad value is null.
          for (const auto& [s, i] : p.rows) {
            const ref_source& src = e.sources[s];
            for (const auto& [name, col] : src.attributes)
              if (name == a.name) {
                const std::string raw = src.table.field(i, col);
                if (!raw.empty()) value = value_text(a.type, raw);
              }
            if (value) break;
          }
          line += " " + a.name + "=" + (value ? *value : "NULL");
        }
        for (const ref_link& l : e.links) {
          std::optional<std::string> key;
          for (const auto& [s, i] : p.rows) {
            const ref_source& src = e.sources[s];
            for (const auto& [name, m] : src.links)
              if (name == l.name) {
                const std::string raw = src.table.field(i, m.column);
                if (!raw.empty()) key = target_key(l, m, raw);
              }
            // The first ranked row where the link is not null. A dangling link is an error, or,
            // lenient, a null (SPEC 2.2) like a link to a dropped profile (2.3): the next row's.
            if (key) break;
          }
          line += " " + l.name + "->" + (key ? *key : "NULL");
        }
        lines.push_back(std::move(line));
      }
      out.profiles[e.name] = idx.profiles;
    } else {
      for (std::size_t i = 0; i < e.table.rows.size(); ++i) {
        std::string line = e.name + " " + (e.key.empty() ? "" : e.table.field(i, e.key));
        for (const ref_attr& a : e.attributes) {
          const std::string raw = e.table.field(i, a.column);
          std::optional<std::string> value;
          if (!raw.empty()) value = value_text(a.type, raw);
          line += " " + a.name + "=" + (value ? *value : "NULL");
        }
        for (const ref_link& l : e.links) {
          const std::string raw = e.table.field(i, l.map.column);
          std::optional<std::string> key;
          if (!raw.empty()) key = target_key(l, l.map, raw);
          line += " " + l.name + "->" + (key ? *key : "NULL");
        }
        lines.push_back(std::move(line));
      }
    }
  }
  std::sort(lines.begin(), lines.end());
  for (auto& l : lines) out.dump += l + "\n";
  return out;
}

}  // namespace b2bseg::test_support
