// Builds entity tables from raw text records: parse values per chunk in parallel, then merge
// dictionaries, check keys, resolve links, number rows and build every index.
#pragma once

#include <tbb/blocked_range.h>
#include <tbb/parallel_for.h>
#include <tbb/parallel_sort.h>
#include <roaring/roaring.hh>

#include <algorithm>
#include <bit>
#include <chrono>
#include <cstring>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "b2bseg/common/bytes.hpp"
#include "b2bseg/common/error.hpp"
#include "b2bseg/common/parse.hpp"
#include "b2bseg/exec/parallel.hpp"
#include "b2bseg/load/load_report.hpp"
#include "b2bseg/storage/graph.hpp"

namespace b2bseg::detail {

/// Where each schema item sits in a record: field index of the key, of each attribute, of each
/// link.
struct field_map {
  int key = -1;
  std::vector<int> attributes;
  std::vector<int> links;
};

/// Copies strings that must outlive the record they came from. Stable addresses; owns the bytes.
class string_arena {
 public:
  std::string_view copy(std::string_view s) {
    if (s.size() > left_) {
      std::size_t n = std::max<std::size_t>(s.size(), 1 << 16);
      blocks_.push_back(std::make_unique<char[]>(n));
      cur_ = blocks_.back().get();
      left_ = n;
    }
    std::memcpy(cur_, s.data(), s.size());
    std::string_view out(cur_, s.size());
    cur_ += s.size();
    left_ -= s.size();
    return out;
  }

 private:
  std::vector<std::unique_ptr<char[]>> blocks_;
  char* cur_ = nullptr;
  std::size_t left_ = 0;
};

/// A small open-addressing string -> code table (codes in insertion order), hashed with XXH3.
/// Does not own the strings it holds.
class string_interner {
 public:
  /// Keeps a new value's view as it is (its bytes outlive the interner).
  struct same_view {
    std::string_view operator()(std::string_view v) const noexcept { return v; }
  };
  /// The code of `s`, inserted when new: then `keep(s)` is stored (a view of the same bytes that
  /// lives long enough, e.g. a copy); `keep` is called once per distinct value.
  template <class Keep = same_view>
  std::uint32_t insert(std::string_view s, Keep&& keep = {}) {
    return insert_hashed(s, hash_bytes(s), keep);
  }
  /// Same as insert, given `h`, the hash of `s` another interner computed (hashes()).
  template <class Keep = same_view>
  std::uint32_t insert_hashed(std::string_view s, std::uint64_t h, Keep&& keep = {}) {
    if ((values_.size() + 1) * 2 > slots_.size()) grow();
    std::size_t mask = slots_.size() - 1;
    for (std::size_t i = h & mask;; i = (i + 1) & mask) {
      std::uint32_t c = slots_[i];
      if (c == 0) {
        values_.push_back(keep(s));
        hashes_.push_back(h);
        slots_[i] = static_cast<std::uint32_t>(values_.size());
        return static_cast<std::uint32_t>(values_.size() - 1);
      }
      if (hashes_[c - 1] == h && same_text(values_[c - 1], s)) return c - 1;
    }
  }
  /// Code of s, or ~0u.
  std::uint32_t find(std::string_view s) const noexcept {
    if (slots_.empty()) return ~0u;
    std::size_t mask = slots_.size() - 1;
    std::uint64_t h = hash_bytes(s);
    for (std::size_t i = h & mask;; i = (i + 1) & mask) {
      std::uint32_t c = slots_[i];
      if (c == 0) return ~0u;
      if (hashes_[c - 1] == h && same_text(values_[c - 1], s)) return c - 1;
    }
  }
  const std::vector<std::string_view>& values() const noexcept { return values_; }
  /// The hash of each value, by code.
  const std::vector<std::uint64_t>& hashes() const noexcept { return hashes_; }
  /// Room for `n` values without growing. O(n).
  void reserve(std::size_t n) {
    values_.reserve(n);
    hashes_.reserve(n);
    if (n * 2 > slots_.size()) grow(std::bit_ceil(n * 2));
  }

 private:
  void grow(std::size_t at_least = 0) {
    std::size_t cap = std::max<std::size_t>({64, slots_.size() * 2, at_least});
    slots_.assign(cap, 0);
    std::size_t mask = cap - 1;
    for (std::size_t c = 0; c < values_.size(); ++c) {
      std::size_t i = hashes_[c] & mask;
      while (slots_[i]) i = (i + 1) & mask;
      slots_[i] = static_cast<std::uint32_t>(c + 1);
    }
  }
  std::vector<std::uint32_t> slots_;
  std::vector<std::string_view> values_;
  std::vector<std::uint64_t> hashes_;
};

/// Lenient-mode bookkeeping of one kind of problem in one column.
struct issue_count {
  std::uint64_t count = 0;
  std::size_t first_line = 0;
  std::string first_value;
  /// Counts one more; keeps the one of the lowest line (callers may meet them out of file order).
  void note(std::size_t line, std::string_view value) {
    if (count++ == 0 || line < first_line) {
      first_line = line;
      first_value = std::string(value.substr(0, 80));
    }
  }
};

/// Attribute values of one chunk, parsed but not yet merged.
struct raw_column {
  std::vector<std::int64_t> ints;
  std::vector<double> floats;
  std::vector<std::uint8_t> flags;   ///< numeric: 1 = null; bool: 0 false, 1 true, 2 null
  std::vector<std::uint32_t> codes;  ///< string: local code or ~0u for null; list: element codes
  std::vector<std::uint32_t> list_offsets;
  string_interner dict;
  issue_count bad;
};

/// One chunk of records of one entity, parsed.
struct raw_chunk {
  std::size_t rows = 0;
  std::vector<std::uint64_t> lines;
  std::vector<std::string_view> keys;
  std::vector<std::uint32_t> key_columns;
  std::vector<raw_column> attributes;
  std::vector<std::vector<std::string_view>> link_keys;  ///< deferred links only
  std::vector<std::vector<std::uint32_t>> link_columns;  ///< deferred links only
  std::vector<std::vector<row_id>> link_parents;         ///< links resolved while parsing
  std::vector<issue_count> dangling;                     ///< lenient: per link
  string_arena arena;
  std::optional<data_error> error;  ///< the first error of this chunk, strict mode
};

inline std::string_view type_word(value_type t) {
  switch (t) {
    case value_type::integer:
      return "int";
    case value_type::floating:
      return "float";
    case value_type::boolean:
      return "bool";
    case value_type::timestamp:
      return "timestamp";
    default:
      return "string";
  }
}

inline std::string quote_value(std::string_view v) {
  std::string s = "'";
  for (char c : v.substr(0, 80)) {
    if (c == '\n')
      s += "\\n";
    else if (c == '\r')
      s += "\\r";
    else
      s += c;
  }
  if (v.size() > 80) s += "...";
  return s + "'";
}

/// A link whose column holds a value of an identity namespace of its (resolved) target, SPEC 2.3:
/// `key_of` turns a value into the key of the target profile holding it, or an empty view.
struct identity_link {
  std::function<std::string_view(std::string_view)> key_of;
};

/// How many chunks a file whose body has `bytes` bytes is split into for `workers` threads: 8
/// per worker, each at least 1 MiB and at most 64 MiB (the text a parser holds at once when it
/// reads a copy of its chunk).
inline std::size_t chunk_count(std::size_t workers, std::size_t bytes) noexcept {
  return std::max<std::size_t>({1, std::min<std::size_t>(workers * 8, bytes >> 20), bytes >> 26});
}

/// Makes `out`, empty, ready to take the records of entity `def`: a column per attribute, a slot
/// per link. What parse_records and the merge of an entity with sources both start from.
inline void start_chunk(const entity_def& def, raw_chunk& out) {
  out.attributes.resize(def.attributes.size());
  out.link_keys.resize(def.links.size());
  out.link_columns.resize(def.links.size());
  out.link_parents.resize(def.links.size());
  out.dangling.resize(def.links.size());
  for (std::size_t a = 0; a < def.attributes.size(); ++a)
    if (def.attributes[a].type == value_type::string_list)
      out.attributes[a].list_offsets.push_back(0);
}

/// Appends value `v` of type `t` to `rc`: empty is null; a string (or each element of a list) is
/// interned, `keep(v)` storing a view of its bytes that outlives the build. Returns false, having
/// appended null, when `v` is not a valid text of type `t`. O(size of v).
template <class Keep>
bool append_value(raw_column& rc, value_type t, std::string_view v, Keep&& keep) {
  switch (t) {
    case value_type::integer:
    case value_type::timestamp: {
      std::int64_t x = 0;
      bool null = v.empty();
      const bool bad =
          !null && !(t == value_type::integer ? parse_int64(v, x) : parse_timestamp(v, x));
      rc.ints.push_back(bad ? 0 : x);
      rc.flags.push_back(null || bad);
      return !bad;
    }
    case value_type::floating: {
      double x = 0;
      const bool bad = !v.empty() && !parse_double(v, x);
      rc.floats.push_back(bad ? 0 : x);
      rc.flags.push_back(v.empty() || bad);
      return !bad;
    }
    case value_type::boolean: {
      bool x = false;
      std::uint8_t flag = 2;
      const bool bad = !v.empty() && !parse_bool(v, x);
      if (!v.empty() && !bad) flag = x;
      rc.flags.push_back(flag);
      return !bad;
    }
    case value_type::string:
      rc.codes.push_back(v.empty() ? ~0u : rc.dict.insert(v, keep));
      return true;
    case value_type::string_list: {
      std::size_t start = 0;
      while (start <= v.size() && !v.empty()) {
        std::size_t bar = v.find('|', start);
        if (bar == std::string_view::npos) bar = v.size();
        if (bar > start) rc.codes.push_back(rc.dict.insert(v.substr(start, bar - start), keep));
        start = bar + 1;
      }
      rc.list_offsets.push_back(static_cast<std::uint32_t>(rc.codes.size()));
      return true;
    }
  }
  return true;
}

/// Parses the records a `Reader` yields into `out`. A Reader has `bool next(std::vector<
/// std::string_view>&)`, `line()` and `column(i)`, and may have `row_id parent(l)`: the row of
/// link `l`'s target that the last record's link value is the key of, or `no_row` to have it
/// looked up (the reader vouches for the rows it names: they are not checked), and `bool
/// copy_value(a, rc)`: appends the last record's value of attribute `a` to `rc` as
/// `append_value` would from its text and returns true, or returns false to have the text
/// parsed (the reader vouches for the values it appends: they are not checked). Views that do not
/// point into [stable_begin, stable_end) are copied into the chunk's arena (a null `stable_begin`
/// means every view the reader yields outlives the build). With `copy_kept`, the range is alive
/// only while the chunk is parsed (a copy of the chunk, reused after: csv_file::copy_chunk): every
/// view the build needs (keys, deferred link keys, each distinct string value once) is copied.
/// `via`, empty or one per link, turns identity values into target keys (the views it returns must
/// outlive the build). In strict mode the first bad value ends the chunk with `out.error`; in
/// lenient mode it becomes null and is counted.
template <class Reader>
void parse_records(Reader& reader, const entity_def& def, const field_map& fm,
                   const char* stable_begin, const char* stable_end, const std::string& file,
                   bool lenient, const std::vector<const key_index*>& targets,
                   const std::vector<identity_link>& via, raw_chunk& out, bool copy_kept = false) {
  start_chunk(def, out);
  std::vector<std::string_view> last_key(def.links.size());
  std::vector<row_id> last_parent(def.links.size(), no_row);
  // Line numbers are kept only where a later error may need them: keys and deferred links.
  bool keep_lines = fm.key >= 0;
  for (auto* t : targets) keep_lines = keep_lines || t == nullptr;
  // Views alive while this chunk is parsed, and views kept for the build.
  auto alive = [&](std::string_view s) {
    if (s.empty() || !stable_begin ||
        (s.data() >= stable_begin && s.data() + s.size() <= stable_end))
      return s;
    return out.arena.copy(s);
  };
  auto stable = [&](std::string_view s) {
    return copy_kept && !s.empty() ? out.arena.copy(s) : alive(s);
  };
  std::vector<std::string_view> f;
  try {
    while (reader.next(f)) {
      std::size_t line = reader.line();
      if (keep_lines) out.lines.push_back(line);
      if (fm.key >= 0) {
        out.keys.push_back(stable(f[fm.key]));
        out.key_columns.push_back(static_cast<std::uint32_t>(reader.column(fm.key)));
      }
      for (std::size_t l = 0; l < def.links.size(); ++l) {
        std::string_view k = f[fm.links[l]];
        const link_def& ld = def.links[l];
        if (!k.empty() && !via.empty() && via[l].key_of) {
          // A namespace's value: its profile's key, or a dangling link.
          const std::string_view key = via[l].key_of(k);
          if (key.empty()) {
            if (!lenient)
              throw data_error(file, line, reader.column(fm.links[l]),
                               "column '" + ld.column + "': no " + ld.to + " with " + ld.identity +
                                   " " + quote_value(k));
            out.dangling[l].note(line, k);
          }
          k = key;
        }
        if (!targets[l]) {  // resolved after every table exists
          out.link_keys[l].push_back(stable(k));
          out.link_columns[l].push_back(static_cast<std::uint32_t>(reader.column(fm.links[l])));
          continue;
        }
        row_id p = no_row;
        // A reader that knows the row its record's link points at (the live engine's row store
        // through its view: `graph_builder::build_from`) names it; else, or where it does not
        // know, the key is looked up.
        if constexpr (requires { reader.parent(l); }) {
          if (!k.empty()) p = reader.parent(l);
        }
        if (!k.empty() && p == no_row) {
          // Rows of one parent tend to follow each other (events of a person): reuse the last
          // lookup. The last key is compared by value, so its bytes must still be alive: they are
          // in the file or were compared before the reader's buffer moved on.
          if (same_text(k, last_key[l])) {
            p = last_parent[l];
          } else {
            p = targets[l]->find(k);
            last_key[l] = alive(k);
            last_parent[l] = p;
          }
          if (p == no_row) {
            if (!lenient)
              throw data_error(
                  file, line, reader.column(fm.links[l]),
                  "column '" + ld.column + "': no " + ld.to + " with key " + quote_value(k));
            out.dangling[l].note(line, k);
          }
        }
        out.link_parents[l].push_back(p);
      }
      for (std::size_t a = 0; a < def.attributes.size(); ++a) {
        raw_column& rc = out.attributes[a];
        if constexpr (requires { reader.copy_value(a, rc); }) {
          if (reader.copy_value(a, rc)) continue;
        }
        std::string_view v = f[fm.attributes[a]];
        const value_type t = def.attributes[a].type;
        const bool bad = !append_value(rc, t, v, stable);
        if (bad) {
          if (!lenient)
            throw data_error(file, line, reader.column(fm.attributes[a]),
                             "column '" + def.attributes[a].column + "': bad " +
                                 std::string(type_word(t)) + " value " + quote_value(v));
          rc.bad.note(line, v);
        }
      }
      ++out.rows;
    }
  } catch (const data_error& e) {
    out.error = e;
  }
}

/// Per link of entity `e`: the key index of its target when that table is already built (the link
/// resolves while parsing), or nullptr (a self link or a cycle: resolved at the end).
inline std::vector<const key_index*> link_targets(const schema& s, entity_id e,
                                                  const std::vector<entity_table>& tables,
                                                  const std::vector<bool>& built) {
  std::vector<const key_index*> out;
  for (const auto& ld : s.entities[e].links)
    out.push_back(built[ld.target] && ld.target != e ? &tables[ld.target].keys : nullptr);
  return out;
}

/// A link whose target is built after its source (a self link or a cycle): kept as key strings
/// in final row order and resolved once every table exists.
struct deferred_link {
  entity_id entity = no_entity;
  std::uint32_t link = 0;
  std::string file;
  std::vector<std::string> keys;
  std::vector<std::uint64_t> lines;
  std::vector<std::uint32_t> columns;
};

/// Builds the table of entity `e` from its parsed chunks. Tables of entities in `built` (by id)
/// are complete and may be link targets; links to others are returned in `deferred`. With
/// `keys_unique` the caller vouches that every key is non-empty and distinct (the profiles of an
/// entity with sources) and they are not checked (a hash of every key: about 100 ms for 1M).
/// `numbering`, when given, receives for each row of the table the index of the record it was
/// built from among the chunks' records, in chunk order. Throws data_error in strict mode (the
/// first error in file order).
inline entity_table build_table(const schema& s, entity_id e, std::vector<raw_chunk>& chunks,
                                const std::string& file, const std::vector<entity_table>& tables,
                                const std::vector<bool>& built, bool lenient, load_report& report,
                                std::vector<deferred_link>& deferred, bool keys_unique = false,
                                std::vector<std::uint32_t>* numbering = nullptr) {
  const entity_def& def = s.entities[e];
  for (auto& c : chunks)
    if (c.error) throw *c.error;

  std::vector<std::size_t> base(chunks.size() + 1, 0);
  for (std::size_t i = 0; i < chunks.size(); ++i) base[i + 1] = base[i] + chunks[i].rows;
  const std::size_t raw_rows = base.back();
  if (raw_rows >= no_row) throw data_error(file, 0, 0, "too many rows (at most 4294967294)");
  auto locate = [&](std::size_t raw) {
    std::size_t c = std::upper_bound(base.begin(), base.end(), raw) - base.begin() - 1;
    return std::pair<std::size_t, std::size_t>(c, raw - base[c]);
  };
  std::vector<std::uint8_t> dropped(raw_rows, 0);

  // Keys: unique and non-empty (checked unless the caller vouches for them: keys_unique).
  std::vector<std::string_view> raw_keys;
  if (def.key) {
    raw_keys.reserve(raw_rows);
    for (auto& c : chunks) raw_keys.insert(raw_keys.end(), c.keys.begin(), c.keys.end());
    issue_count empty, dup;
    string_interner seen;
    std::vector<std::uint32_t> first_raw;
    for (std::size_t r = 0; !keys_unique && r < raw_rows; ++r) {
      auto [c, i] = locate(r);
      if (raw_keys[r].empty()) {
        if (!lenient)
          throw data_error(file, chunks[c].lines[i], chunks[c].key_columns[i],
                           "column '" + *def.key + "': empty key");
        empty.note(chunks[c].lines[i], "");
        dropped[r] = 1;
        continue;
      }
      std::uint32_t code = seen.insert(raw_keys[r]);
      if (code < first_raw.size()) {
        auto [fc, fi] = locate(first_raw[code]);
        if (!lenient)
          throw data_error(file, chunks[c].lines[i], chunks[c].key_columns[i],
                           "column '" + *def.key + "': duplicate key " + quote_value(raw_keys[r]) +
                               " (first on line " + std::to_string(chunks[fc].lines[fi]) + ")");
        dup.note(chunks[c].lines[i], raw_keys[r]);
        dropped[r] = 1;
        continue;
      }
      first_raw.push_back(static_cast<std::uint32_t>(r));
    }
    if (empty.count) {
      report.bad_values += empty.count;
      report.issues.push_back(file + ": column '" + *def.key + "': " + std::to_string(empty.count) +
                              " rows with an empty key dropped (first: line " +
                              std::to_string(empty.first_line) + ")");
    }
    if (dup.count) {
      report.duplicate_keys += dup.count;
      report.issues.push_back(file + ": column '" + *def.key + "': " + std::to_string(dup.count) +
                              " rows with a duplicate key dropped (first: line " +
                              std::to_string(dup.first_line) + ", " + quote_value(dup.first_value) +
                              ")");
    }
  }

  // Links to built tables resolve now; the first such link to another entity clusters the rows.
  const std::size_t n_links = def.links.size();
  std::vector<std::vector<row_id>> raw_parents(n_links);
  int cluster = -1;
  for (std::size_t l = 0; l < n_links; ++l) {
    const link_def& ld = def.links[l];
    if (!built[ld.target] || ld.target == e) continue;
    if (cluster < 0) cluster = static_cast<int>(l);
    auto& parents = raw_parents[l];
    parents.reserve(raw_rows);
    for (auto& ch : chunks)
      parents.insert(parents.end(), ch.link_parents[l].begin(), ch.link_parents[l].end());
    std::vector<issue_count> dangling;
    for (auto& ch : chunks) dangling.push_back(ch.dangling[l]);
    issue_count total;
    for (auto& d : dangling) {
      if (d.count && !total.count) {
        total.first_line = d.first_line;
        total.first_value = d.first_value;
      }
      total.count += d.count;
    }
    if (total.count) {
      report.dangling_links += total.count;
      report.issues.push_back(
          file + ": column '" + ld.column + "': " + std::to_string(total.count) +
          " links to missing " + ld.to + " keys turned into null (first: line " +
          std::to_string(total.first_line) + ", " + quote_value(total.first_value) + ")");
    }
  }

  // Number the rows: by cluster parent (unset last), then by key, else by file order.
  std::vector<std::uint32_t> order;
  order.reserve(raw_rows);
  for (std::size_t r = 0; r < raw_rows; ++r)
    if (!dropped[r]) order.push_back(static_cast<std::uint32_t>(r));
  const row_id* cp = cluster >= 0 ? raw_parents[cluster].data() : nullptr;
  // Keys compare by their first 16 bytes (keys often share a first 8, such as "sfdc_id:" or
  // "003C0000") and only on a tie by the whole string.
  std::vector<std::uint64_t> prefix, prefix2;
  if (def.key) {
    prefix.resize(raw_rows);
    prefix2.resize(raw_rows);
    b2bseg::detail::parallel_for(std::size_t(0), raw_rows, [&](std::size_t r) {
      prefix[r] = byte_prefix(raw_keys[r]);
      prefix2[r] = raw_keys[r].size() > 8 ? byte_prefix(raw_keys[r].substr(8)) : 0;
    });
  }
  auto key_less = [&](std::uint32_t a, std::uint32_t b) {
    if (prefix[a] != prefix[b]) return prefix[a] < prefix[b];
    if (prefix2[a] != prefix2[b]) return prefix2[a] < prefix2[b];
    return raw_keys[a] < raw_keys[b];
  };
  if (cp) {
    // A counting sort by parent (unset last), stable, so unkeyed rows keep file order; then each
    // parent's rows by key.
    const std::size_t parents = tables[def.links[cluster].target].rows;
    std::vector<std::uint32_t> start(parents + 2, 0);
    for (auto r : order) ++start[(cp[r] == no_row ? parents : cp[r]) + 1];
    for (std::size_t p = 1; p < start.size(); ++p) start[p] += start[p - 1];
    std::vector<std::uint32_t> sorted(order.size());
    std::vector<std::uint32_t> fill(start.begin(), start.end() - 1);
    for (auto r : order) sorted[fill[cp[r] == no_row ? parents : cp[r]]++] = r;
    order.swap(sorted);
    if (def.key) {
      b2bseg::detail::parallel_for(tbb::blocked_range<std::size_t>(0, parents + 1, 256),
                                   [&](const tbb::blocked_range<std::size_t>& g) {
                                     for (std::size_t p = g.begin(); p < g.end(); ++p)
                                       std::sort(order.begin() + start[p],
                                                 order.begin() + start[p + 1], key_less);
                                   });
    }
  } else if (def.key) {
    b2bseg::detail::parallel_sort(order.begin(), order.end(), key_less);
  }
  const std::size_t n = order.size();
  if (numbering) *numbering = order;

  entity_table t;
  t.rows = n;
  t.has_key = def.key.has_value();
  if (t.has_key) {
    std::vector<std::string_view> keys(n);
    for (std::size_t i = 0; i < n; ++i) keys[i] = raw_keys[order[i]];
    t.keys = key_index(keys);
  }
  // chunk and index of every final row, computed once.
  std::vector<std::uint32_t> row_chunk(n), row_index(n);
  b2bseg::detail::parallel_for(std::size_t(0), n, [&](std::size_t i) {
    auto [c, k] = locate(order[i]);
    row_chunk[i] = static_cast<std::uint32_t>(c);
    row_index[i] = static_cast<std::uint32_t>(k);
  });

  // Attributes.
  t.columns.resize(def.attributes.size());
  b2bseg::detail::parallel_for(std::size_t(0), def.attributes.size(), [&](std::size_t a) {
    const attribute_def& ad = def.attributes[a];
    column col(ad.type);
    using acc = detail_column_access;
    acc::size(col) = n;
    std::vector<std::uint32_t> null_rows;
    // Numbers in final row order; null rows hold 0 and are listed in null_rows.
    auto gather_numbers = [&](auto& target, const auto raw_column::*member) {
      std::vector<std::remove_cvref_t<decltype(target[0])>> values(n, 0);
      for (std::size_t i = 0; i < n; ++i) {
        const raw_column& rc = chunks[row_chunk[i]].attributes[a];
        if (rc.flags[row_index[i]])
          null_rows.push_back(std::uint32_t(i));
        else
          values[i] = (rc.*member)[row_index[i]];
      }
      target = std::move(values);
    };
    switch (ad.type) {
      case value_type::integer:
      case value_type::timestamp: {
        std::vector<std::int64_t> values;
        gather_numbers(values, &raw_column::ints);
        acc::ints(col) = int_array(std::move(values), null_rows);
        break;
      }
      case value_type::floating:
        gather_numbers(acc::floats(col), &raw_column::floats);
        break;
      case value_type::boolean: {
        std::vector<std::uint32_t> true_rows;
        for (std::size_t i = 0; i < n; ++i) {
          std::uint8_t f = chunks[row_chunk[i]].attributes[a].flags[row_index[i]];
          if (f == 2)
            null_rows.push_back(std::uint32_t(i));
          else if (f == 1)
            true_rows.push_back(std::uint32_t(i));
        }
        acc::trues(col).addMany(true_rows.size(), true_rows.data());
        acc::trues(col).runOptimize();
        break;
      }
      case value_type::string:
      case value_type::string_list: {
        // Merge chunk dictionaries into one sorted dictionary, then map local codes to final ones.
        string_interner global;
        std::size_t values = 0;
        for (const raw_chunk& c : chunks) values += c.attributes[a].dict.values().size();
        global.reserve(values);
        std::vector<std::vector<std::uint32_t>> to_global(chunks.size());
        for (std::size_t c = 0; c < chunks.size(); ++c) {
          const string_interner& local = chunks[c].attributes[a].dict;
          const auto& vals = local.values();
          to_global[c].resize(vals.size());
          for (std::size_t k = 0; k < vals.size(); ++k)
            to_global[c][k] = global.insert_hashed(vals[k], local.hashes()[k]);
        }
        // Only values used by a kept row enter the dictionary (rows read in file order: the
        // final order jumps between chunks, a cache miss a row).
        std::vector<std::uint8_t> used(global.values().size(), 0);
        bool list = ad.type == value_type::string_list;
        for (std::size_t c = 0; c < chunks.size(); ++c) {
          const raw_column& rc = chunks[c].attributes[a];
          const auto& tg = to_global[c];
          for (std::size_t i = 0; i < chunks[c].rows; ++i) {
            if (dropped[base[c] + i]) continue;
            if (!list) {
              std::uint32_t lc = rc.codes[i];
              if (lc != ~0u) used[tg[lc]] = 1;
            } else {
              for (std::uint32_t k = rc.list_offsets[i]; k < rc.list_offsets[i + 1]; ++k)
                used[tg[rc.codes[k]]] = 1;
            }
          }
        }
        std::vector<std::uint32_t> ids;
        for (std::uint32_t g = 0; g < used.size(); ++g)
          if (used[g]) ids.push_back(g);
        // Sorted as (first 8 bytes, next 8 bytes, id) records, so that comparisons seldom leave
        // the array: a nearly unique column's values share long prefixes (emails start with
        // common names), and comparing through ids into the strings made this sort most of a
        // 10M-row table's build (13.6 of 20.6 s for the emails; now 2.3 s).
        const auto& gv = global.values();
        struct sort_entry {
          std::uint64_t head, next;
          std::uint32_t id;
        };
        std::vector<sort_entry> entries(ids.size());
        b2bseg::detail::parallel_for(std::size_t(0), ids.size(), [&](std::size_t k) {
          const std::string_view v = gv[ids[k]];
          entries[k] = {byte_prefix(v), v.size() > 8 ? byte_prefix(v.substr(8)) : 0, ids[k]};
        });
        // By the 16 bytes alone first (no string is touched), then each run of values that
        // share them (a third of 1M emails) by the strings.
        b2bseg::detail::parallel_sort(entries.begin(), entries.end(),
                                      [](const sort_entry& x, const sort_entry& y) {
                                        return x.head != y.head ? x.head < y.head : x.next < y.next;
                                      });
        auto tie = [](const sort_entry& x, const sort_entry& y) {
          return x.head == y.head && x.next == y.next;
        };
        std::vector<std::pair<std::size_t, std::size_t>> runs;  // [begin, end), longer than one
        for (std::size_t k = 0, end = 0; k < entries.size(); k = end) {
          end = k + 1;
          while (end < entries.size() && tie(entries[end], entries[k])) ++end;
          if (end - k > 1) runs.emplace_back(k, end);
        }
        b2bseg::detail::parallel_for(std::size_t(0), runs.size(), [&](std::size_t r) {
          std::sort(entries.begin() + static_cast<std::ptrdiff_t>(runs[r].first),
                    entries.begin() + static_cast<std::ptrdiff_t>(runs[r].second),
                    [&](const sort_entry& x, const sort_entry& y) { return gv[x.id] < gv[y.id]; });
        });
        for (std::size_t k = 0; k < ids.size(); ++k) ids[k] = entries[k].id;
        std::vector<sort_entry>().swap(entries);
        std::vector<std::uint32_t> final_code(gv.size(), ~0u);
        std::vector<std::string_view> sorted(ids.size());
        for (std::size_t k = 0; k < ids.size(); ++k) {
          final_code[ids[k]] = static_cast<std::uint32_t>(k);
          sorted[k] = gv[ids[k]];
        }
        acc::dictionary(col) = string_dictionary(sorted);
        const std::size_t dict_size = sorted.size();
        std::vector<std::uint32_t> counts(dict_size + 1, 0);
        if (!list) {
          code_array codes(n, dict_size);
          for (std::size_t i = 0; i < n; ++i) {
            const raw_column& rc = chunks[row_chunk[i]].attributes[a];
            std::uint32_t lc = rc.codes[row_index[i]];
            if (lc == ~0u) {
              null_rows.push_back(std::uint32_t(i));
              continue;
            }
            std::uint32_t fc = final_code[to_global[row_chunk[i]][lc]];
            codes.set(i, fc);
            ++counts[fc + 1];
          }
          acc::codes(col) = std::move(codes);
        } else {
          std::vector<std::uint32_t> offs, lcodes;
          offs.reserve(n + 1);
          offs.push_back(0);
          std::vector<std::uint32_t> tmp;
          for (std::size_t i = 0; i < n; ++i) {
            const raw_column& rc = chunks[row_chunk[i]].attributes[a];
            tmp.clear();
            for (std::uint32_t k = rc.list_offsets[row_index[i]];
                 k < rc.list_offsets[row_index[i] + 1]; ++k)
              tmp.push_back(final_code[to_global[row_chunk[i]][rc.codes[k]]]);
            std::sort(tmp.begin(), tmp.end());
            tmp.erase(std::unique(tmp.begin(), tmp.end()), tmp.end());
            if (tmp.empty()) null_rows.push_back(std::uint32_t(i));
            for (auto fc : tmp) ++counts[fc + 1];
            lcodes.insert(lcodes.end(), tmp.begin(), tmp.end());
            offs.push_back(static_cast<std::uint32_t>(lcodes.size()));
          }
          acc::list_offsets(col) = std::move(offs);
          acc::list_codes(col) = std::move(lcodes);
        }
        // One bitmap per value, unless the column is nearly unique (then they cost more than a
        // scan of the codes saves).
        bool bitmaps = dict_size <= 4096 || dict_size * 16 <= n;
        if (bitmaps && dict_size) {
          for (std::size_t k = 1; k <= dict_size; ++k) counts[k] += counts[k - 1];
          std::vector<std::uint32_t> rows_by_value(counts[dict_size]);
          std::vector<std::uint32_t> fill(counts.begin(), counts.end() - 1);
          std::size_t next_null = 0;  // null_rows is sorted
          for (std::size_t i = 0; i < n; ++i) {
            if (!list) {
              if (next_null < null_rows.size() && null_rows[next_null] == i) {
                ++next_null;
                continue;
              }
              rows_by_value[fill[acc::codes(col)[i]]++] = std::uint32_t(i);
            } else {
              for (auto fc : col.list_at(row_id(i))) rows_by_value[fill[fc]++] = std::uint32_t(i);
            }
          }
          auto& vb = acc::value_bitmaps(col);
          vb.resize(dict_size);
          b2bseg::detail::parallel_for(std::size_t(0), dict_size, [&](std::size_t k) {
            vb[k].addMany(counts[k + 1] - counts[k], rows_by_value.data() + counts[k]);
            vb[k].runOptimize();
            vb[k].shrinkToFit();
          });
        }
        break;
      }
    }
    acc::nulls(col).addMany(null_rows.size(), null_rows.data());
    acc::nulls(col).runOptimize();
    acc::nulls(col).shrinkToFit();
    t.columns[a] = std::move(col);
  });

  // Lenient counts of bad values, per column, in file order.
  for (std::size_t a = 0; a < def.attributes.size(); ++a) {
    issue_count total;
    for (auto& c : chunks) {
      const issue_count& b = c.attributes[a].bad;
      if (b.count && !total.count) {
        total.first_line = b.first_line;
        total.first_value = b.first_value;
      }
      total.count += b.count;
    }
    if (total.count) {
      report.bad_values += total.count;
      report.issues.push_back(
          file + ": column '" + def.attributes[a].column + "': " + std::to_string(total.count) +
          " bad " + std::string(type_word(def.attributes[a].type)) +
          " values turned into null (first: line " + std::to_string(total.first_line) + ", " +
          quote_value(total.first_value) + ")");
    }
  }

  // Links: resolved ones become indexes now; the others wait, as strings in final row order.
  t.links.resize(n_links);
  for (std::size_t l = 0; l < n_links; ++l) {
    const link_def& ld = def.links[l];
    if (!raw_parents[l].empty()) {
      std::vector<row_id> parents(n);
      for (std::size_t i = 0; i < n; ++i) parents[i] = raw_parents[l][order[i]];
      t.links[l] = link_index(std::move(parents), tables[ld.target].rows);
    } else {
      deferred_link d;
      d.entity = e;
      d.link = static_cast<std::uint32_t>(l);
      d.file = file;
      d.keys.resize(n);
      d.lines.resize(n);
      d.columns.resize(n);
      for (std::size_t i = 0; i < n; ++i) {
        const raw_chunk& ch = chunks[row_chunk[i]];
        d.keys[i] = std::string(ch.link_keys[l][row_index[i]]);
        d.lines[i] = ch.lines[row_index[i]];
        d.columns[i] = ch.link_columns[l][row_index[i]];
      }
      deferred.push_back(std::move(d));
    }
  }
  return t;
}

/// Resolves a deferred link once its target table exists. Same errors as `build_table`.
inline void resolve_deferred(const schema& s, deferred_link& d, std::vector<entity_table>& tables,
                             bool lenient, load_report& report) {
  const link_def& ld = s.entities[d.entity].links[d.link];
  const entity_table& target = tables[ld.target];
  std::vector<row_id> parents(d.keys.size(), no_row);
  issue_count dangling;
  std::size_t first = 0;  // the dangling link of the lowest line: rows are in id order here
  for (std::size_t i = 0; i < d.keys.size(); ++i) {
    if (d.keys[i].empty()) continue;
    row_id p = target.keys.find(d.keys[i]);
    if (p == no_row) {
      if (dangling.count == 0 || d.lines[i] < d.lines[first]) first = i;
      dangling.note(d.lines[i], d.keys[i]);
      continue;
    }
    parents[i] = p;
  }
  if (dangling.count && !lenient)
    throw data_error(
        d.file, d.lines[first], d.columns[first],
        "column '" + ld.column + "': no " + ld.to + " with key " + quote_value(d.keys[first]));
  if (dangling.count) {
    report.dangling_links += dangling.count;
    report.issues.push_back(
        d.file + ": column '" + ld.column + "': " + std::to_string(dangling.count) +
        " links to missing " + ld.to + " keys turned into null (first: line " +
        std::to_string(dangling.first_line) + ", " + quote_value(dangling.first_value) + ")");
  }
  tables[d.entity].links[d.link] = link_index(std::move(parents), target.rows);
}

/// The order in which entities are built: an entity comes after the targets of its links where
/// the links allow it (self links and cycles are deferred).
inline std::vector<entity_id> build_order(const schema& s) {
  std::vector<entity_id> out;
  std::vector<bool> done(s.entities.size(), false);
  while (out.size() < s.entities.size()) {
    entity_id pick = no_entity;
    for (entity_id e = 0; e < s.entities.size() && pick == no_entity; ++e) {
      if (done[e]) continue;
      bool ready = true;
      for (const auto& l : s.entities[e].links)
        if (l.target != e && !done[l.target]) ready = false;
      if (ready) pick = e;
    }
    if (pick == no_entity)
      for (entity_id e = 0; e < s.entities.size(); ++e)
        if (!done[e]) {
          pick = e;
          break;
        }
    done[pick] = true;
    out.push_back(pick);
  }
  return out;
}

/// Per entity, the link `build_table` numbers its rows by (the first link to another entity
/// built before it, in `build_order`: rows go by that parent, unset last), or -1.
inline std::vector<int> cluster_links(const schema& s) {
  const auto order = build_order(s);
  std::vector<std::size_t> pos(s.entities.size());
  for (std::size_t i = 0; i < order.size(); ++i) pos[order[i]] = i;
  std::vector<int> out(s.entities.size(), -1);
  for (entity_id e = 0; e < s.entities.size(); ++e)
    for (std::uint32_t l = 0; l < s.entities[e].links.size() && out[e] < 0; ++l) {
      const entity_id to = s.entities[e].links[l].target;
      if (to != e && pos[to] < pos[e]) out[e] = static_cast<int>(l);
    }
  return out;
}

}  // namespace b2bseg::detail
