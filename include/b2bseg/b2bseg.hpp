// b2bseg: the whole library. Include this one header.
//
//     b2bseg::graph g = b2bseg::load_dataset("datasets/demo");
//     b2bseg::bound_file f = b2bseg::compile_segments(text, g.schema(), "demo.seg");
//     b2bseg::evaluation ev = b2bseg::evaluate(g, f, {.as_of = now});
//     for (auto& s : ev.segments) { /* s.members: Roaring over dense ids; g.key(s.entity, id) */ }
#pragma once

#include <chrono>
#include <filesystem>
#include <string>
#include <vector>

#include "b2bseg/common/error.hpp"
#include "b2bseg/common/huge_pages.hpp"
#include "b2bseg/common/parse.hpp"
#include "b2bseg/common/process_memory.hpp"
#include "b2bseg/common/types.hpp"
#include "b2bseg/exec/executor.hpp"
#include "b2bseg/inspect/overlap.hpp"
#include "b2bseg/inspect/why.hpp"
#include "b2bseg/lang/compile.hpp"
#include "b2bseg/load/dataset.hpp"
#include "b2bseg/load/graph_builder.hpp"
#include "b2bseg/output/writer.hpp"
#include "b2bseg/plan/planner.hpp"
#include "b2bseg/snapshot/snapshot.hpp"
#include "b2bseg/storage/graph.hpp"
#include "b2bseg/storage/schema_json.hpp"

namespace b2bseg {

/// The current time as a timestamp (microseconds since the epoch, UTC).
inline timestamp_us current_time() {
  return std::chrono::duration_cast<std::chrono::microseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

/// Whether `path` names a file (a snapshot, or something that should be one) rather than a
/// dataset folder.
inline bool names_a_file(const std::string& path) {
  std::error_code ec;
  return std::filesystem::is_regular_file(path, ec);
}

/// Opens what `--data` names (SPEC 2.5): a file is a snapshot, mapped (`open_snapshot`; `opts`
/// do not apply, `report` gets the row count, the file size and the open time), anything else is
/// a dataset folder loaded from CSV (`load_dataset`). Throws data_error as those do (a file that
/// is not a snapshot: "not a b2bseg snapshot").
inline graph open_data(const std::string& path, const load_options& opts = {},
                       load_report* report = nullptr) {
  if (!names_a_file(path)) return load_dataset(path, opts, report);
  snapshot_info info;
  graph g = open_snapshot(path, &info);
  if (report) {
    *report = load_report{};
    for (entity_id e = 0; e < g.entity_count(); ++e) report->total_rows += g.rows(e);
    report->total_bytes = info.file_bytes;
    report->load_ms = info.open_ms;
  }
  return g;
}

/// The schema of what `--data` names: a snapshot's own, or the folder's schema.json.
inline schema read_data_schema(const std::string& path) {
  return names_a_file(path) ? read_snapshot_schema(path)
                            : read_schema((std::filesystem::path(path) / "schema.json").string());
}

/// Options of `evaluate`.
struct eval_options {
  timestamp_us as_of = current_time();  ///< the instant `now` stands for
  unsigned threads = 0;                 ///< worker threads; 0 = all cores
  std::vector<std::string> segments;    ///< evaluate only these (and what they use); empty = all
};

/// Evaluates the segments of a compiled file over `g`. Throws data_error for an unknown segment
/// name in `opts.segments`. Cost: one pass over the shared plan (see `executor::run`).
inline evaluation evaluate(const graph& g, const bound_file& f, const eval_options& opts = {}) {
  std::vector<std::uint32_t> selected;
  for (const auto& name : opts.segments) {
    int i = f.find(name);
    if (i < 0) throw data_error("unknown segment '" + name + "'");
    selected.push_back(static_cast<std::uint32_t>(i));
  }
  executor ex(g, opts.threads);
  return ex.run(build_plan(g.schema(), f, opts.as_of, selected), f);
}

}  // namespace b2bseg
