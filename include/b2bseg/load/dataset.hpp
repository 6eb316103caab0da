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
/// first schema column the header lacks.
inline field_map map_header(const entity_def& def, const csv_file& f) {
  field_map fm;
  auto need = [&](const std::string& col) {
    int i = f.find_column(col);
    if (i < 0)
      throw data_error(f.name(), 1, 0,
                       "column '" + col + "' named in the schema is missing from the header");
    return i;
  };
  if (def.key) fm.key = need(*def.key);
  for (const auto& a : def.attributes) fm.attributes.push_back(need(a.column));
  for (const auto& l : def.links) fm.links.push_back(need(l.column));
  return fm;
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
  for (entity_id e = 0; e < s.entities.size(); ++e) {
    paths[e] = (fs::path(dir) / s.entities[e].file).string();
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
    b2bseg::detail::parallel_for(std::size_t(0), parts.size(), [&](std::size_t c) {
      csv_record_reader reader(f, parts[c]);
      detail::parse_records(reader, def, fm, parts[c].begin, parts[c].end, f.name(), opts.lenient,
                            targets, chunks[c]);
    });
    double parse_ms = detail::ms_since(t1);
    auto t2 = std::chrono::steady_clock::now();
    tables[e] =
        detail::build_table(s, e, chunks, f.name(), tables, built, opts.lenient, rep, deferred);
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
