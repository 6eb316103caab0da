// Loading a dataset folder (schema.json + one CSV per entity) into a graph, in parallel.
#pragma once

#include <tbb/info.h>
#include <tbb/parallel_for.h>
#include <tbb/task_arena.h>

#include <chrono>
#include <filesystem>
#include <string>
#include <vector>

#include "b2bseg/exec/parallel.hpp"
#include "b2bseg/load/csv.hpp"
#include "b2bseg/load/load_report.hpp"
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

/// The path of the file entity `def` names, checked by SPEC 2.1's rule: a relative path that stays
/// inside the dataset folder `dir` once `..` steps and symbolic links are resolved, naming a
/// regular file. Throws data_error naming the schema entry, or the file when it cannot be opened.
inline std::string dataset_file(const std::string& dir, const std::string& schema_path,
                                const entity_def& def) {
  namespace fs = std::filesystem;
  auto refuse = [&](const std::string& why) {
    throw data_error(schema_path, 0, 0,
                     "entity '" + def.name + "': file '" + def.file + "' " + why);
  };
  const fs::path rel(def.file);
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
  std::vector<std::string> paths(s.entities.size());
  std::uint64_t total = 0;
  const std::string schema_path = (fs::path(dir) / "schema.json").string();
  for (entity_id e = 0; e < s.entities.size(); ++e) {
    paths[e] = detail::dataset_file(dir, schema_path, s.entities[e]);
    std::error_code ec;
    auto sz = fs::file_size(paths[e], ec);
    if (!ec) total += sz;
  }
  std::uint64_t done = 0;
  const unsigned workers = static_cast<unsigned>(tbb::this_task_arena::max_concurrency());
  for (entity_id e : detail::build_order(s)) {
    const entity_def& def = s.entities[e];
    if (opts.progress) opts.progress(def.name, done, total);
    auto t1 = std::chrono::steady_clock::now();
    csv_file f = csv_file::open(paths[e]);
    detail::field_map fm = detail::map_header(def, f);
    std::size_t want =
        opts.chunks
            ? opts.chunks
            : std::max<std::size_t>(1, std::min<std::size_t>(workers * 8, f.body_size() >> 20));
    std::vector<csv_chunk> parts = f.split(want);
    std::vector<detail::raw_chunk> chunks(parts.size());
    const std::vector<const key_index*> targets = detail::link_targets(s, e, tables, built);
    double parse_ms = 0;
    auto t2 = t1;
    try {
      b2bseg::detail::parallel_for(std::size_t(0), parts.size(), [&](std::size_t c) {
        csv_record_reader reader(f, parts[c]);
        detail::parse_records(reader, def, fm, parts[c].begin, parts[c].end, f.name(), opts.lenient,
                              targets, chunks[c]);
      });
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
    done += f.body_size();
  }
  for (auto& d : deferred) detail::resolve_deferred(s, d, tables, opts.lenient, rep);
  if (opts.progress) opts.progress("", total, total);
  rep.load_ms = detail::ms_since(t0);
  rep.total_bytes = total;
  rep.total_rows = 0;
  for (auto& t : tables) rep.total_rows += t.rows;
  return graph(std::move(s), std::move(tables));
}

}  // namespace b2bseg
