// Loading a dataset folder (schema.json + one CSV per entity, or several sources merged by
// identity) into a graph, in parallel.
#pragma once

#include <tbb/enumerable_thread_specific.h>
#include <tbb/info.h>
#include <tbb/parallel_for.h>
#include <tbb/task_arena.h>

#include <chrono>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "b2bseg/exec/parallel.hpp"
#include "b2bseg/load/csv.hpp"
#include "b2bseg/load/load_report.hpp"
#include "b2bseg/load/sources.hpp"
#include "b2bseg/load/table_builder.hpp"
#include "b2bseg/storage/graph.hpp"
#include "b2bseg/storage/schema_json.hpp"

namespace b2bseg {

namespace detail {

/// Maps the schema's columns of entity `def` to fields of a header. Throws data_error naming the
/// first schema column the header lacks or repeats.
inline field_map map_header(const entity_def& def, const csv_file& f) {
  field_map fm;
  auto need = [&](const std::string& col) { return static_cast<int>(f.require_column(col)); };
  if (def.key) fm.key = need(*def.key);
  for (const auto& a : def.attributes) fm.attributes.push_back(need(a.column));
  for (const auto& l : def.links) fm.links.push_back(need(l.column));
  return fm;
}

/// The path of `file`, named by schema entry `entry` ("entity 'person'", "source 'sfdc' of entity
/// 'person'"), checked by SPEC 2.1's rule: a relative path that stays inside the dataset folder
/// `dir` once `..` steps and symbolic links are resolved, naming a regular file. Throws data_error
/// naming the schema entry, or the file when it cannot be opened.
inline std::string dataset_file(const std::string& dir, const std::string& schema_path,
                                const std::string& entry, const std::string& file) {
  namespace fs = std::filesystem;
  auto refuse = [&](const std::string& why) {
    throw data_error(schema_path, 0, 0, entry + ": file '" + file + "' " + why);
  };
  const fs::path rel(file);
  if (rel.is_absolute()) refuse("is an absolute path; name a file inside the dataset folder");
  const fs::path full = fs::path(dir) / rel;
  std::error_code ec;
  const fs::path root = fs::canonical(dir, ec);
  if (ec) throw data_error(dir, 0, 0, "cannot open: " + ec.message());
  // Links resolved as far as the path exists, `..` steps lexically after that.
  const fs::path real = fs::weakly_canonical(full, ec);
  if (ec) throw data_error(full.string(), 0, 0, "cannot open: " + ec.message());
  auto r = real.begin();
  for (auto it = root.begin(); it != root.end(); ++it, ++r)
    if (r == real.end() || *r != *it) refuse("leads outside the dataset folder");
  const fs::file_status st = fs::status(real, ec);
  if (!fs::exists(st))
    throw data_error(full.string(), 0, 0, "cannot open: No such file or directory");
  if (!fs::is_regular_file(st))
    refuse(fs::is_directory(st) ? "is a folder, not a file"
                                : "is not a regular file (a device, a pipe or a socket)");
  return full.string();
}

/// Every file entity `def` reads: its own file, or one per source, in schema order.
inline std::vector<std::string> entity_files(const std::string& dir, const std::string& schema_path,
                                             const entity_def& def) {
  std::vector<std::string> out;
  if (!def.resolved()) {
    out.push_back(dataset_file(dir, schema_path, "entity '" + def.name + "'", def.file));
    return out;
  }
  for (const source_def& src : def.sources)
    out.push_back(dataset_file(dir, schema_path,
                               "source '" + src.name + "' of entity '" + def.name + "'", src.file));
  return out;
}

/// Per link of `def`: how a value in a namespace of a resolved target becomes its key (empty when
/// no link names a namespace).
inline std::vector<identity_link> identity_links(
    const schema& s, const entity_def& def,
    const std::vector<std::unique_ptr<resolved_entity>>& resolved) {
  std::vector<identity_link> out;
  for (std::size_t l = 0; l < def.links.size(); ++l) {
    const link_def& ld = def.links[l];
    if (ld.identity.empty()) continue;
    out.resize(def.links.size());
    const resolved_entity* t = resolved[ld.target].get();
    const identity_rule rule = s.entities[ld.target].identities[ld.identity_index].rule;
    const std::uint32_t ns = ld.identity_index;
    out[l].key_of = [t, rule, ns](std::string_view v) {
      thread_local std::string buffer;
      return t->key_of(ns, normalize_identity(rule, v, buffer));
    };
  }
  return out;
}

inline double ms_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
}

}  // namespace detail

/// Loads the dataset in folder `dir`: reads `schema.json`, then every entity's CSV file, parsed
/// in parallel chunks on the current oneTBB arena (cap it with `tbb::global_control` or a
/// `tbb::task_arena`). Builds every index. Returns a fully indexed, validated-by-construction
/// graph. Throws data_error for any bad input (file, line, column, value), unless `opts.lenient`
/// turns it into a counted null; fills `report` when given. Cost: O(bytes) parse + O(rows log rows)
/// numbering.
inline graph load_dataset(const std::string& dir, const load_options& opts = {},
                          load_report* report = nullptr) {
  namespace fs = std::filesystem;
  auto t0 = std::chrono::steady_clock::now();
  load_report local;
  load_report& rep = report ? *report : local;
  schema s = read_schema((fs::path(dir) / "schema.json").string());

  std::vector<entity_table> tables(s.entities.size());
  std::vector<bool> built(s.entities.size(), false);
  std::vector<detail::deferred_link> deferred;
  std::vector<std::vector<std::string>> paths(s.entities.size());
  std::vector<std::uint64_t> bytes(s.entities.size(), 0);
  std::uint64_t total = 0;
  const std::string schema_path = (fs::path(dir) / "schema.json").string();
  for (entity_id e = 0; e < s.entities.size(); ++e) {
    paths[e] = detail::entity_files(dir, schema_path, s.entities[e]);
    for (const auto& p : paths[e]) {
      std::error_code ec;
      auto sz = fs::file_size(p, ec);
      if (!ec) bytes[e] += sz;
    }
    total += bytes[e];
  }
  std::uint64_t done = 0;
  // Entities with sources are resolved first, so that links naming their namespaces find their
  // profiles whatever the build order.
  std::vector<std::unique_ptr<detail::resolved_entity>> resolved(s.entities.size());
  std::vector<const detail::resolved_entity*> resolved_view(s.entities.size(), nullptr);
  std::vector<double> resolve_ms(s.entities.size(), 0);
  // Only a resolved entity that some link finds by namespace or profile key needs its identity
  // index (a link by key from a plain entity uses the built table's key index).
  std::vector<bool> index_needed(s.entities.size(), false);
  for (const entity_def& def : s.entities) {
    for (const link_def& l : def.links)
      if (!l.identity.empty()) index_needed[l.target] = true;
    for (const source_def& src : def.sources)
      for (const source_field& f : src.links)
        if (s.entities[def.links[f.index].target].resolved())
          index_needed[def.links[f.index].target] = true;
  }
  for (entity_id e = 0; e < s.entities.size(); ++e) {
    if (!s.entities[e].resolved()) continue;
    if (opts.progress) opts.progress(s.entities[e].name + " (resolving)", done, total);
    auto t1 = std::chrono::steady_clock::now();
    resolved[e] = std::make_unique<detail::resolved_entity>();
    detail::read_sources(s, e, paths[e], opts, rep, *resolved[e], index_needed[e]);
    resolved_view[e] = resolved[e].get();
    resolve_ms[e] = detail::ms_since(t1);
  }
  const unsigned workers = static_cast<unsigned>(tbb::this_task_arena::max_concurrency());
  try {
    for (entity_id e : detail::build_order(s)) {
      const entity_def& def = s.entities[e];
      if (opts.progress) opts.progress(def.name, done, total);
      auto t1 = std::chrono::steady_clock::now();
      if (def.resolved()) {
        detail::resolved_entity& r = *resolved[e];
        tables[e] =
            detail::build_resolved(s, r, tables, built, resolved_view, opts.lenient, rep, deferred);
        for (const auto& src : r.sources) src.file->throw_if_changed();
        built[e] = true;
        rep.resolutions.back().resolve_ms = resolve_ms[e];
        rep.entities.push_back(
            {def.name, r.name, tables[e].rows, bytes[e], resolve_ms[e], detail::ms_since(t1)});
        done += bytes[e];
        continue;
      }
      // The file is read in copies of the pieces being scanned or parsed (open_lean, copy_chunk),
      // never through its mapped pages: the load holds no whole file, only the chunks being
      // parsed, so its peak is the graph plus the parsed values, not the CSV text too; and a
      // copy costs less than mapping the same pages in (bench/README.md, "Reading the CSV
      // files").
      csv_file f = csv_file::open_lean(paths[e][0]);
      detail::field_map fm = detail::map_header(def, f);
      const std::size_t want =
          opts.chunks ? opts.chunks : detail::chunk_count(workers, f.body_size());
      std::vector<csv_chunk> parts = f.split(want);
      std::vector<detail::raw_chunk> chunks(parts.size());
      tbb::enumerable_thread_specific<chunk_buffer> buffers;
      const std::vector<const key_index*> targets = detail::link_targets(s, e, tables, built);
      const std::vector<detail::identity_link> via = detail::identity_links(s, def, resolved);
      double parse_ms = 0;
      auto t2 = t1;
      try {
        b2bseg::detail::parallel_for(std::size_t(0), parts.size(), [&](std::size_t c) {
          const csv_chunk part = f.copy_chunk(parts[c], buffers.local());
          csv_record_reader reader(f, part);
          detail::parse_records(reader, def, fm, part.begin, part.end, f.name(), opts.lenient,
                                targets, via, chunks[c], part.limit != nullptr);
        });
        buffers.clear();  // the copies' room, before the build needs its own
        parse_ms = detail::ms_since(t1);
        t2 = std::chrono::steady_clock::now();
        tables[e] =
            detail::build_table(s, e, chunks, f.name(), tables, built, opts.lenient, rep, deferred);
      } catch (const data_error&) {
        f.throw_if_changed();  // an error read from bytes that vanished: say that instead
        throw;
      }
      f.throw_if_changed();  // the table holds every byte of the file as it was opened
      built[e] = true;
      rep.entities.push_back(
          {def.name, f.name(), tables[e].rows, f.body_size(), parse_ms, detail::ms_since(t2)});
      done += bytes[e];
    }
    for (auto& d : deferred) detail::resolve_deferred(s, d, tables, opts.lenient, rep);
  } catch (const data_error& err) {
    // Errors about merged profiles are told at the source row their value came from.
    for (const auto& r : resolved)
      if (r && err.file() == r->name) throw detail::at_source(s, *r, err);
    throw;
  }
  if (opts.progress) opts.progress("", total, total);
  rep.load_ms = detail::ms_since(t0);
  rep.total_bytes = total;
  rep.total_rows = 0;
  for (auto& t : tables) rep.total_rows += t.rows;
  return graph(std::move(s), std::move(tables));
}

}  // namespace b2bseg
