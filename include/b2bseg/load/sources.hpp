// Loading an entity with sources (SPEC 2.3): read every source file, check its values, resolve
// the rows into profiles by identity, merge each profile's attributes and links, and build the
// entity's table from the merged profiles with the same code as a plain CSV load.
#pragma once

#include <tbb/info.h>
#include <tbb/task_arena.h>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <deque>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "b2bseg/identity/resolve.hpp"
#include "b2bseg/load/csv.hpp"
#include "b2bseg/load/load_report.hpp"
#include "b2bseg/load/table_builder.hpp"

namespace b2bseg::detail {

/// True when `v` (not empty) is a valid text of type `t` (SPEC 2.2).
inline bool value_parses(value_type t, std::string_view v) noexcept {
  switch (t) {
    case value_type::integer: {
      std::int64_t x;
      return parse_int64(v, x);
    }
    case value_type::timestamp: {
      std::int64_t x;
      return parse_timestamp(v, x);
    }
    case value_type::floating: {
      double x;
      return parse_double(v, x);
    }
    case value_type::boolean: {
      bool x;
      return parse_bool(v, x);
    }
    default:
      return true;
  }
}

/// The checked rows of one chunk of one source file. Each row has the source's `width` field
/// slots: its identities (normalized; empty when none), attributes (checked against their types;
/// a bad value in a lenient load is empty) and links (as written).
struct row_block {
  std::size_t source = 0;  ///< index of the source in the entity's sources
  std::size_t rows = 0;
  std::uint64_t read = 0;  ///< records read, rows without identity included
  std::vector<std::uint64_t> lines;
  std::vector<packed_view> fields;          ///< rows * width
  std::deque<std::string_view> spilled;     ///< the field views too long to pack
  std::vector<std::uint32_t> id_columns;    ///< rows * identities: byte column of each identity
  std::vector<std::uint32_t> link_columns;  ///< rows * links: byte column of each link
  std::vector<std::int64_t> updated;        ///< per row, until read_sources flattens them
  std::vector<std::uint8_t> has_updated;
  std::unique_ptr<string_arena> arena = std::make_unique<string_arena>();
  std::optional<data_error> error;  ///< the first error of the chunk, strict mode
};

/// One source file of a resolved entity: the file (its bytes back the rows' views) and counts.
struct source_rows {
  std::optional<csv_file> file;  ///< always set once read
  std::size_t width = 0;         ///< identities + attributes + links the source maps
  std::uint64_t rows = 0;        ///< rows kept
  std::uint64_t read = 0;        ///< records in the file
  std::uint64_t profiles = 0;    ///< profiles the kept rows feed
};

/// An entity with sources on its way into a table: its source rows, their resolution into
/// profiles and the profiles' keys; build_resolved merges them into the table.
struct resolved_entity {
  entity_id entity = no_entity;
  std::vector<source_rows> sources;
  std::vector<row_block> blocks;  ///< in source order, then file order: global rows count along
  std::vector<std::size_t> base;  ///< first global row of each block; base.back() = rows
  std::vector<std::uint32_t> source_of;        ///< per global row
  std::vector<const packed_view*> row_fields;  ///< per global row: its field slots
  std::vector<std::int64_t> updated;           ///< per global row; meaningful where has_updated
  std::vector<std::uint8_t> has_updated;       ///< per global row
  resolution res;
  std::size_t entry_bytes = 0;            ///< what the resolution's entries held, for the report
  std::vector<std::uint32_t> kept_index;  ///< per resolution profile: index among kept, or ~0u
  std::vector<std::string_view> keys;     ///< per resolution profile: "NS:VALUE"; empty if dropped
  identity_index index;                   ///< (ns, value) -> resolution profile, kept ones only
  std::string key_chars;                  ///< the bytes of every key
  /// "ENTITY (sources)": the file name the merged profiles go by until `at_source` tells an error
  /// at the source row instead (line: kept profile + 1; column: 1 key, 2.. attributes, links).
  std::string name;
  /// Per kept profile and link: the global row the link's value came from, or ~0u.
  std::vector<std::uint32_t> link_origin;

  /// (block, row in that block) of global row `g`. O(log blocks).
  std::pair<std::size_t, std::size_t> locate(std::size_t g) const noexcept {
    const std::size_t b = std::upper_bound(base.begin(), base.end(), g) - base.begin() - 1;
    return {b, g - base[b]};
  }
  /// The key of the profile holding `value` of namespace `ns`, or an empty view.
  std::string_view key_of(std::uint32_t ns, std::string_view value) const noexcept {
    const std::uint32_t p = index.find(ns, value);
    return p == ~0u ? std::string_view() : keys[p];
  }
  /// True when `key` ("NS:VALUE") is the key of a kept profile.
  bool has_key(const entity_def& def, std::string_view key) const noexcept {
    const std::size_t colon = key.find(':');
    if (colon == std::string_view::npos) return false;
    const int ns = def.find_identity(key.substr(0, colon));
    return ns >= 0 && key_of(static_cast<std::uint32_t>(ns), key.substr(colon + 1)) == key;
  }
};

/// Counts lenient problems by (source, column): several threads note into one.
struct issue_board {
  std::mutex lock;
  std::vector<issue_count> counts;
  void note(std::size_t i, std::size_t line, std::string_view v) {
    std::lock_guard<std::mutex> g(lock);
    counts[i].note(line, v);
  }
};

/// Reads and checks every source of resolved entity `e` and resolves its rows into profiles.
/// `paths[k]` is the checked path of source k. Throws data_error naming the source file, line and
/// column for a bad value, a row without identity, an oversized profile (strict mode). Builds the
/// identity index (what links by namespace and by profile key look up) only when `index_needed`.
inline void read_sources(const schema& s, entity_id e, const std::vector<std::string>& paths,
                         const load_options& opts, load_report& rep, resolved_entity& out,
                         bool index_needed = true) {
  const entity_def& def = s.entities[e];
  out.entity = e;
  out.name = def.name + " (sources)";
  out.sources.resize(def.sources.size());
  const unsigned workers = static_cast<unsigned>(tbb::this_task_arena::max_concurrency());
  out.base.push_back(0);
  for (std::size_t k = 0; k < def.sources.size(); ++k) {
    const source_def& src = def.sources[k];
    source_rows& sr = out.sources[k];
    sr.file.emplace(csv_file::open(paths[k]));
    const csv_file& f = *sr.file;
    const std::size_t ni = src.identities.size(), na = src.attributes.size(), nl = src.links.size();
    const bool has_updated = !src.updated_at.empty();
    sr.width = ni + na + nl;
    std::vector<std::size_t> col;
    for (const auto& x : src.identities) col.push_back(f.require_column(x.column));
    for (const auto& x : src.attributes) col.push_back(f.require_column(x.column));
    for (const auto& x : src.links) col.push_back(f.require_column(x.column));
    if (has_updated) col.push_back(f.require_column(src.updated_at));
    const std::size_t want = opts.chunks ? opts.chunks : chunk_count(workers, f.body_size());
    const std::vector<csv_chunk> parts = f.split(want);
    std::vector<row_block> chunks(parts.size());
    // Lenient counts: per slot (bad values), `updated_at`, and rows without identity.
    issue_board board;
    board.counts.resize(sr.width + 2);
    const std::string_view body = f.body();
    b2bseg::detail::parallel_for(std::size_t(0), parts.size(), [&](std::size_t c) {
      row_block& ch = chunks[c];
      row_block& r = ch;
      ch.source = k;
      string_arena& arena = *r.arena;
      auto stable = [&](std::string_view v) {
        if (v.empty() ||
            (v.data() >= body.data() && v.data() + v.size() <= body.data() + body.size()))
          return v;
        return arena.copy(v);
      };
      std::vector<std::string_view> fields;
      std::vector<std::string_view> row(sr.width + 1);
      std::string buffer;
      csv_record_reader reader(f, parts[c]);
      try {
        while (reader.next(fields)) {
          ++ch.read;
          const std::size_t line = reader.line();
          bool any = false;
          for (std::size_t j = 0; j < ni; ++j) {
            const identity_rule rule = def.identities[src.identities[j].index].rule;
            std::string_view v = normalize_identity(rule, fields[col[j]], buffer);
            row[j] = v.data() == buffer.data() ? arena.copy(v) : stable(v);
            any = any || !row[j].empty();
          }
          if (!any) {
            std::string names;
            for (const auto& x : src.identities)
              names += (names.empty() ? "'" : ", '") + x.column + "'";
            if (!opts.lenient)
              throw data_error(f.name(), line, 0,
                               "row has no identity value (" + names +
                                   (ni > 1 ? " are all empty" : " is empty") +
                                   "): it cannot join a profile of " + def.name);
            board.note(sr.width + 1, line, "");
            continue;
          }
          for (std::size_t j = 0; j < na; ++j) {
            const std::size_t slot = ni + j;
            const std::string_view v = fields[col[slot]];
            const attribute_def& ad = def.attributes[src.attributes[j].index];
            if (!v.empty() && !value_parses(ad.type, v)) {
              if (!opts.lenient)
                throw data_error(f.name(), line, reader.column(col[slot]),
                                 "column '" + src.attributes[j].column + "': bad " +
                                     std::string(type_word(ad.type)) + " value " + quote_value(v));
              board.note(slot, line, v);
              row[slot] = {};
              continue;
            }
            // A list without any element ("|") is null too, so the merge looks further.
            row[slot] = ad.type == value_type::string_list &&
                                v.find_first_not_of('|') == std::string_view::npos
                            ? std::string_view()
                            : stable(v);
          }
          for (std::size_t j = 0; j < nl; ++j) {
            row[ni + na + j] = stable(fields[col[ni + na + j]]);
            r.link_columns.push_back(static_cast<std::uint32_t>(reader.column(col[ni + na + j])));
          }
          std::int64_t t = 0;
          bool has_t = false;
          if (has_updated) {
            const std::size_t slot = sr.width;  // after the fields kept
            const std::string_view v = fields[col[slot]];
            has_t = !v.empty() && parse_timestamp(v, t);
            if (!v.empty() && !has_t) {
              if (!opts.lenient)
                throw data_error(
                    f.name(), line, reader.column(col[slot]),
                    "column '" + src.updated_at + "': bad timestamp value " + quote_value(v));
              board.note(slot, line, v);
            }
          }
          for (std::size_t j = 0; j < ni; ++j)
            r.id_columns.push_back(static_cast<std::uint32_t>(reader.column(col[j])));
          for (std::size_t j = 0; j < sr.width; ++j)
            r.fields.push_back(packed_view::pack(
                row[j], [&](std::string_view v) { return &r.spilled.emplace_back(v); }));
          r.lines.push_back(line);
          r.updated.push_back(t);
          r.has_updated.push_back(has_t);
          if (++r.rows == 512) {
            // Room for the whole chunk, estimated from the bytes its first rows took: growing
            // these arrays by doubling copied them into fresh pages, a fifth of this phase.
            // Never more rows than the chunk could hold (a record has a byte per column at
            // least), so that short first rows before long ones cannot ask for a huge room.
            const auto done = static_cast<std::size_t>(reader.record().data() +
                                                       reader.record().size() - parts[c].begin);
            const std::size_t all = static_cast<std::size_t>(parts[c].end - parts[c].begin);
            const std::size_t rows =
                std::min(done ? all / done * 512 + all % done * 512 / done + 64 : 0,
                         all / std::max<std::size_t>(1, f.header().size()) + 1);
            r.fields.reserve(rows * sr.width);
            r.id_columns.reserve(rows * ni);
            r.link_columns.reserve(rows * nl);
            r.lines.reserve(rows);
            r.updated.reserve(rows);
            r.has_updated.reserve(rows);
          }
        }
      } catch (const data_error& err) {
        ch.error = err;
      }
    });
    try {
      for (auto& ch : chunks)
        if (ch.error) throw *ch.error;
    } catch (const data_error&) {
      f.throw_if_changed();
      throw;
    }
    for (auto& ch : chunks) {
      sr.read += ch.read;
      sr.rows += ch.rows;
      out.base.push_back(out.base.back() + ch.rows);
      out.blocks.push_back(std::move(ch));
    }
    // Lenient counts, in the words of a plain load.
    for (std::size_t slot = ni; slot <= sr.width; ++slot) {
      const issue_count& b = board.counts[slot];
      if (!b.count) continue;
      std::string column;
      std::string_view type = "timestamp";
      if (slot >= ni + na && slot < sr.width) continue;  // links: checked later
      if (slot < ni + na) {
        column = src.attributes[slot - ni].column;
        type = type_word(def.attributes[src.attributes[slot - ni].index].type);
      } else {
        column = src.updated_at;
      }
      rep.bad_values += b.count;
      rep.issues.push_back(f.name() + ": column '" + column + "': " + std::to_string(b.count) +
                           " bad " + std::string(type) + " values turned into null (first: line " +
                           std::to_string(b.first_line) + ", " + quote_value(b.first_value) + ")");
    }
    if (const issue_count& b = board.counts[sr.width + 1]; b.count) {
      rep.rows_without_identity += b.count;
      rep.issues.push_back(f.name() + ": " + std::to_string(b.count) +
                           " rows without any identity value dropped (first: line " +
                           std::to_string(b.first_line) + ")");
    }
  }

  // Resolution: every identity value of every row, then components and ranks.
  const std::size_t rows = out.base.back();
  if (rows >= 0xFFFFFFFFu) throw data_error(out.name, 0, 0, "too many source rows");
  out.source_of.resize(rows);
  std::vector<std::int64_t>& updated = out.updated;
  std::vector<std::uint8_t>& has_updated = out.has_updated;
  updated.resize(rows);
  has_updated.resize(rows);
  out.row_fields.resize(rows);
  const std::size_t blocks = out.blocks.size();
  std::size_t max_values = 0;
  for (const row_block& blk : out.blocks)
    max_values += blk.rows * def.sources[blk.source].identities.size();
  b2bseg::detail::parallel_for(std::size_t(0), blocks, [&](std::size_t b) {
    const row_block& blk = out.blocks[b];
    const std::size_t width = out.sources[blk.source].width;
    for (std::size_t i = 0; i < blk.rows; ++i) {
      const std::size_t g = out.base[b] + i;
      out.source_of[g] = static_cast<std::uint32_t>(blk.source);
      out.row_fields[g] = blk.fields.data() + i * width;
      updated[g] = blk.updated[i];
      has_updated[g] = blk.has_updated[i];
    }
  });
  // The blocks' copies go back to the heap, for the resolution's arrays to reuse.
  for (row_block& blk : out.blocks) {
    std::vector<std::int64_t>().swap(blk.updated);
    std::vector<std::uint8_t>().swap(blk.has_updated);
  }
  // The identity values of every row, in parts of whole blocks: a few parts per worker.
  const std::size_t parts =
      std::max<std::size_t>(1, std::min<std::size_t>(blocks, 2 * std::size_t(workers)));
  auto for_each_value = [&](std::size_t part, auto&& emit) {
    for (std::size_t b = blocks * part / parts; b < blocks * (part + 1) / parts; ++b) {
      const row_block& blk = out.blocks[b];
      const source_def& src = def.sources[blk.source];
      const std::size_t width = out.sources[blk.source].width, ni = src.identities.size();
      for (std::size_t i = 0; i < blk.rows; ++i) {
        const packed_view* f = blk.fields.data() + i * width;
        for (std::size_t j = 0; j < ni; ++j)
          if (!f[j].empty())
            emit(static_cast<std::uint32_t>(out.base[b] + i), src.identities[j].index, f[j].view());
      }
    }
  };
  // Rows of one profile, best first. Within a source, rows keep file order, so "later line first"
  // is the larger global row.
  const bool latest = def.merge == merge_policy::latest;
  auto rank_less = [&](std::uint32_t a, std::uint32_t b) {
    const std::uint32_t sa = out.source_of[a], sb = out.source_of[b];
    if (!latest && sa != sb) return sa < sb;
    if (has_updated[a] != has_updated[b]) return has_updated[a] > has_updated[b];
    if (has_updated[a] && updated[a] != updated[b]) return updated[a] > updated[b];
    if (sa != sb) return sa < sb;
    return a > b;
  };
  out.res = resolve_identities(parts, for_each_value, max_values, rows, rank_less);
  const resolution& res = out.res;

  // The guardrail: profiles over max_rows_per_profile.
  const std::size_t profiles = res.profiles();
  out.kept_index.assign(profiles, ~0u);
  std::uint64_t oversized = 0, oversized_rows = 0;
  std::size_t first_oversized = profiles;
  std::uint32_t kept = 0;
  for (std::size_t p = 0; p < profiles; ++p) {
    if (res.rows_of(p) > def.max_rows_per_profile) {
      ++oversized;
      oversized_rows += res.rows_of(p);
      if (first_oversized == profiles) first_oversized = p;
      continue;
    }
    out.kept_index[p] = kept++;
  }
  if (oversized) {
    const std::uint32_t w = res.widest_run(first_oversized);
    const identity_entry& we = res.run_entry(w);
    // The first row (by source, then line) that holds the widest value.
    std::uint32_t first = we.row;
    for (std::uint32_t i = res.run_starts[w]; i < res.run_starts[w + 1]; ++i)
      first = std::min(first, res.entries[i].row);
    const auto [b, i] = out.locate(first);
    const std::size_t k = out.blocks[b].source;
    const source_def& src = def.sources[k];
    std::size_t j = 0;
    while (src.identities[j].index != we.ns()) ++j;
    const std::string what =
        "a profile of " + def.name + " merges " + std::to_string(res.rows_of(first_oversized)) +
        " source rows, more than max_rows_per_profile (" +
        std::to_string(def.max_rows_per_profile) + "): " + def.identities[we.ns()].name + " " +
        quote_value(we.value()) + " is shared by " + std::to_string(res.run_size(w)) + " of them";
    if (!opts.lenient)
      throw data_error(out.sources[k].file->name(), out.blocks[b].lines[i],
                       out.blocks[b].id_columns[i * src.identities.size() + j],
                       what +
                           "; fix that value in the sources, raise \"max_rows_per_profile\" in "
                           "schema.json, or load with --lenient to drop such profiles");
    rep.oversized_profiles += oversized;
    rep.oversized_rows += oversized_rows;
    rep.issues.push_back(def.name + ": " + std::to_string(oversized) + " profiles over " +
                         "max_rows_per_profile (" + std::to_string(def.max_rows_per_profile) +
                         ") dropped with their " + std::to_string(oversized_rows) +
                         " rows (first: " + what + ")");
  }

  // The identity index (only when some link looks this entity up), then the entries and their
  // runs, which served the guardrail and the index, go back to the heap for the keys, the merge
  // and the build to reuse (the report still counts what resolving held).
  if (index_needed) {
    std::vector<std::uint32_t> self(profiles);
    for (std::size_t p = 0; p < profiles; ++p)
      self[p] = out.kept_index[p] == ~0u ? ~0u : static_cast<std::uint32_t>(p);
    out.index = identity_index(res, self);
  }
  out.entry_bytes = out.res.run_starts.back() * sizeof(identity_entry);
  out.res.entries.reset();
  std::vector<std::uint32_t>().swap(out.res.run_starts);
  std::vector<std::uint32_t>().swap(out.res.row_profile);

  // A profile's key: its value of the first namespace in `identities` order that it has, the
  // smallest by bytes (SPEC 2.3). Found from its rows' fields, profiles in parallel.
  out.keys.assign(profiles, {});
  std::vector<std::uint32_t> key_ns(profiles, ~0u);
  std::vector<std::size_t> key_bytes_needed(profiles + 1, 0);
  b2bseg::detail::parallel_for(
      tbb::blocked_range<std::size_t>(0, profiles, 2048),
      [&](const tbb::blocked_range<std::size_t>& g) {
        for (std::size_t p = g.begin(); p < g.end(); ++p) {
          if (out.kept_index[p] == ~0u) continue;
          std::uint32_t best_ns = ~0u;
          std::string_view best;
          for (std::uint32_t i = res.starts[p]; i < res.starts[p + 1]; ++i) {
            const std::uint32_t row = res.order[i];
            const source_def& src = def.sources[out.source_of[row]];
            for (std::size_t j = 0; j < src.identities.size(); ++j) {
              const std::string_view v = out.row_fields[row][j].view();
              const std::uint32_t ns = src.identities[j].index;
              if (v.empty() || ns > best_ns || (ns == best_ns && v >= best)) continue;
              best_ns = ns;
              best = v;
            }
          }
          key_ns[p] = best_ns;
          out.keys[p] = best;  // the value for now; "NS:" is prefixed below
          key_bytes_needed[p + 1] = def.identities[best_ns].name.size() + 1 + best.size();
        }
      });
  for (std::size_t p = 0; p < profiles; ++p) key_bytes_needed[p + 1] += key_bytes_needed[p];
  out.key_chars.resize(key_bytes_needed[profiles]);
  b2bseg::detail::parallel_for(
      tbb::blocked_range<std::size_t>(0, profiles, 2048),
      [&](const tbb::blocked_range<std::size_t>& g) {
        for (std::size_t p = g.begin(); p < g.end(); ++p) {
          if (key_ns[p] == ~0u) continue;
          char* at = out.key_chars.data() + key_bytes_needed[p];
          const std::string& ns = def.identities[key_ns[p]].name;
          std::memcpy(at, ns.data(), ns.size());
          at[ns.size()] = ':';
          std::memcpy(at + ns.size() + 1, out.keys[p].data(), out.keys[p].size());
          out.keys[p] = std::string_view(out.key_chars.data() + key_bytes_needed[p],
                                         key_bytes_needed[p + 1] - key_bytes_needed[p]);
        }
      });
}

/// Builds the table of resolved entity `r.entity`: merges every kept profile's attributes and
/// links from its ranked rows, resolves the links' values (namespaces through the targets'
/// identity indexes), then builds the table as a plain load does. `resolved[t]` is the resolved
/// entity of entity t or nullptr. Throws data_error naming the source file, line and column.
inline entity_table build_resolved(const schema& s, resolved_entity& r,
                                   const std::vector<entity_table>& tables,
                                   const std::vector<bool>& built,
                                   const std::vector<const resolved_entity*>& resolved,
                                   bool lenient, load_report& rep,
                                   std::vector<deferred_link>& deferred) {
  const entity_id e = r.entity;
  const entity_def& def = s.entities[e];
  const resolution& res = r.res;
  const std::size_t na = def.attributes.size(), nl = def.links.size();
  const std::size_t rows = r.base.back();

  // Every row's links, checked where the target is known now. Where the target is built
  // (`targets`), the row the link names (no_row: null), so that each link is looked up once;
  // elsewhere the text the table reads: the target's key (a namespace's value turned into its
  // profile key), empty: null. Each array is kept only if some link needs it.
  const std::vector<const key_index*> targets = link_targets(s, e, tables, built);
  const bool any_text = std::find(targets.begin(), targets.end(), nullptr) != targets.end();
  const bool any_parent =
      std::any_of(targets.begin(), targets.end(), [](const key_index* t) { return t != nullptr; });
  std::vector<std::string_view> link_text(any_text ? rows * nl : 0);
  std::vector<row_id> link_parent(any_parent ? rows * nl : 0, no_row);
  struct failure {
    std::size_t row = ~std::size_t(0);
    std::optional<data_error> error;
  };
  failure first;
  std::mutex first_lock;
  issue_board dangling;
  std::vector<std::size_t> slot_base(def.sources.size() + 1, 0);
  for (std::size_t k = 0; k < def.sources.size(); ++k)
    slot_base[k + 1] = slot_base[k] + def.sources[k].links.size();
  dangling.counts.resize(slot_base.back());
  b2bseg::detail::parallel_for(
      tbb::blocked_range<std::size_t>(0, rows, 4096),
      [&](const tbb::blocked_range<std::size_t>& g) {
        std::string buffer;
        for (std::size_t row = g.begin(); row < g.end(); ++row) {
          const std::size_t k = r.source_of[row];
          const source_def& src = def.sources[k];
          for (std::size_t j = 0; j < src.links.size(); ++j) {
            const source_field& f = src.links[j];
            const std::string_view v =
                r.row_fields[row][src.identities.size() + src.attributes.size() + j].view();
            if (v.empty()) continue;
            const link_def& ld = def.links[f.index];
            const entity_def& target = s.entities[ld.target];
            std::string_view text = v;
            bool found = true;
            row_id parent = no_row;
            if (!f.identity.empty()) {
              const std::string_view nv =
                  normalize_identity(target.identities[f.identity_index].rule, v, buffer);
              text = resolved[ld.target]->key_of(f.identity_index, nv);
              found = !text.empty();
            } else if (resolved[ld.target]) {
              found = resolved[ld.target]->has_key(target, v);
            } else if (built[ld.target]) {
              parent = tables[ld.target].keys.find(v);
              found = parent != no_row;
            }  // else: a plain target built later, checked when it is (a deferred link)
            if (found) {
              // A found link to a built target names a row of it (its key is in that table).
              if (targets[f.index])
                link_parent[row * nl + f.index] =
                    parent != no_row ? parent : targets[f.index]->find(text);
              else
                link_text[row * nl + f.index] = text;
              continue;
            }
            const auto [b, i] = r.locate(row);
            const std::size_t line = r.blocks[b].lines[i];
            if (lenient) {
              dangling.note(slot_base[k] + j, line, v);
              continue;
            }
            std::lock_guard<std::mutex> lock(first_lock);
            if (row < first.row) {
              first.row = row;
              first.error =
                  data_error(r.sources[k].file->name(), line,
                             r.blocks[b].link_columns[i * src.links.size() + j],
                             "column '" + f.column + "': no " + ld.to + " with " +
                                 (f.identity.empty() ? std::string("key ") : f.identity + " ") +
                                 quote_value(v));
            }
            return;
          }
        }
      });
  if (first.error) throw *first.error;
  for (std::size_t k = 0; k < def.sources.size(); ++k)
    for (std::size_t j = 0; j < def.sources[k].links.size(); ++j) {
      const issue_count& d = dangling.counts[slot_base[k] + j];
      if (!d.count) continue;
      const source_field& f = def.sources[k].links[j];
      rep.dangling_links += d.count;
      rep.issues.push_back(r.sources[k].file->name() + ": column '" + f.column +
                           "': " + std::to_string(d.count) + " links to missing " +
                           def.links[f.index].to + " " +
                           (f.identity.empty() ? std::string("keys") : f.identity + " values") +
                           " turned into null (first: line " + std::to_string(d.first_line) + ", " +
                           quote_value(d.first_value) + ")");
    }

  // The merged profiles, straight into the chunks the table is built from: per kept profile its
  // key, then each attribute and link from the first ranked row where it is not null. The values
  // were checked when the sources were read, so nothing here fails; a later error about a link
  // names the merged record (line: kept profile + 1, column: field + 1, as `at_source` reads it).
  std::vector<std::vector<int>> attr_slot(def.sources.size(), std::vector<int>(na, -1));
  for (std::size_t k = 0; k < def.sources.size(); ++k)
    for (std::size_t j = 0; j < def.sources[k].attributes.size(); ++j)
      attr_slot[k][def.sources[k].attributes[j].index] =
          static_cast<int>(def.sources[k].identities.size() + j);
  const std::size_t profiles = res.profiles();
  std::vector<std::uint32_t> kept_profiles;
  kept_profiles.reserve(profiles);
  for (std::size_t p = 0; p < profiles; ++p)
    if (r.kept_index[p] != ~0u) kept_profiles.push_back(static_cast<std::uint32_t>(p));
  const std::size_t kept = kept_profiles.size();
  r.link_origin.assign(kept * nl, ~0u);
  std::vector<std::uint8_t> multi(profiles, 0);
  const std::size_t parts = std::max<std::size_t>(
      1, std::min<std::size_t>(
             static_cast<std::size_t>(tbb::this_task_arena::max_concurrency()) * 4, kept / 8192));
  std::vector<raw_chunk> chunks(parts);
  b2bseg::detail::parallel_for(std::size_t(0), parts, [&](std::size_t c) {
    raw_chunk& ch = chunks[c];
    const std::size_t lo = kept * c / parts, hi = kept * (c + 1) / parts;
    start_chunk(def, ch);
    ch.keys.reserve(hi - lo);
    ch.key_columns.assign(hi - lo, 1);
    ch.lines.reserve(hi - lo);
    for (std::size_t out = lo; out < hi; ++out) {
      const std::uint32_t p = kept_profiles[out];
      ch.keys.push_back(r.keys[p]);
      ch.lines.push_back(out + 1);
      const std::uint32_t* begin = res.order.data() + res.starts[p];
      const std::uint32_t* end = res.order.data() + res.starts[p + 1];
      for (std::size_t a = 0; a < na; ++a) {
        std::string_view v;
        for (const std::uint32_t* it = begin; it != end; ++it) {
          const int slot = attr_slot[r.source_of[*it]][a];
          if (slot < 0 || r.row_fields[*it][slot].empty()) continue;
          v = r.row_fields[*it][slot].view();
          break;
        }
        append_value(ch.attributes[a], def.attributes[a].type, v, string_interner::same_view{});
      }
      for (std::size_t l = 0; l < nl; ++l) {
        std::uint32_t from = ~0u;
        for (const std::uint32_t* it = begin; it != end && from == ~0u; ++it)
          if (targets[l] ? link_parent[*it * nl + l] != no_row : !link_text[*it * nl + l].empty())
            from = *it;
        r.link_origin[out * nl + l] = from;
        if (targets[l]) {
          ch.link_parents[l].push_back(from == ~0u ? no_row : link_parent[from * nl + l]);
        } else {
          ch.link_keys[l].push_back(from == ~0u ? std::string_view() : link_text[from * nl + l]);
          ch.link_columns[l].push_back(static_cast<std::uint32_t>(2 + na + l));
        }
      }
      for (const std::uint32_t* it = begin + 1; it != end; ++it)
        if (r.source_of[*it] != r.source_of[*begin]) multi[p] = 1;
      ++ch.rows;
    }
  });
  std::vector<std::string_view>().swap(link_text);
  std::vector<row_id>().swap(link_parent);

  // Report: per source the profiles it fed, per entity the merges.
  load_report::resolution_info info;
  info.entity = def.name;
  info.rows = rows;
  info.profiles = kept;
  info.identity_values = r.index.size();
  info.index_bytes = r.index.memory_bytes() + r.entry_bytes;
  std::vector<std::vector<std::uint8_t>> fed(def.sources.size(), std::vector<std::uint8_t>(kept));
  for (std::size_t p = 0; p < profiles; ++p) {
    if (r.kept_index[p] == ~0u) continue;
    info.merged += res.rows_of(p) > 1;
    info.multi_source += multi[p];
    for (std::uint32_t i = res.starts[p]; i < res.starts[p + 1]; ++i)
      fed[r.source_of[res.order[i]]][r.kept_index[p]] = 1;
  }
  for (std::size_t k = 0; k < def.sources.size(); ++k) {
    std::uint64_t n = 0;
    for (auto x : fed[k]) n += x;
    r.sources[k].profiles = n;
    rep.sources.push_back({def.name, def.sources[k].name, r.sources[k].file->name(),
                           r.sources[k].read, r.sources[k].rows, n});
  }
  rep.resolutions.push_back(info);

  // What the merge read goes back to the heap before the table's build takes its room: the
  // fields of every source row and what ranked them. Kept: each row's line and link columns
  // (at_source), the keys and the index (links from other entities), the bytes the views named.
  for (row_block& b : r.blocks) {
    std::vector<packed_view>().swap(b.fields);
    std::vector<std::uint32_t>().swap(b.id_columns);
  }
  std::vector<const packed_view*>().swap(r.row_fields);
  std::vector<std::uint32_t>().swap(r.source_of);
  std::vector<std::int64_t>().swap(r.updated);
  std::vector<std::uint8_t>().swap(r.has_updated);

  // Keys are unique: each is an identity value of one profile.
  return build_table(s, e, chunks, r.name, tables, built, lenient, rep, deferred, true);
}

/// A data_error about merged record fields of `r` (file `r.name`), told at the source row the
/// field came from; other errors unchanged.
inline data_error at_source(const schema& s, const resolved_entity& r, const data_error& err) {
  if (err.file() != r.name || err.line() == 0 || err.column() == 0) return err;
  const entity_def& def = s.entities[r.entity];
  const std::size_t na = def.attributes.size(), nl = def.links.size();
  const std::size_t record = err.line() - 1, field = err.column() - 1;
  if (field < 1 + na || field >= 1 + na + nl || record * nl >= r.link_origin.size()) return err;
  const std::uint32_t g = r.link_origin[record * nl + (field - 1 - na)];
  if (g == ~0u) return err;
  const auto [b, i] = r.locate(g);
  const std::size_t k = r.blocks[b].source;
  const source_def& src = def.sources[k];
  std::size_t j = 0;
  while (j < src.links.size() && src.links[j].index != field - 1 - na) ++j;
  if (j == src.links.size()) return err;
  const source_rows& sr = r.sources[k];
  std::string message = err.what();
  const std::string head =
      r.name + ":" + std::to_string(err.line()) + ":" + std::to_string(err.column()) + ": ";
  if (message.rfind(head, 0) == 0) message = message.substr(head.size());
  const std::string col = "column '" + def.links[field - 1 - na].column + "'";
  if (message.rfind(col, 0) == 0)
    message = "column '" + src.links[j].column + "'" + message.substr(col.size());
  return data_error(sr.file->name(), r.blocks[b].lines[i],
                    r.blocks[b].link_columns[i * src.links.size() + j], message);
}

}  // namespace b2bseg::detail
