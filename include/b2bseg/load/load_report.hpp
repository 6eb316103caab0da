// Options and report of a dataset load: lenient mode, threads, progress, what was met and fixed.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <vector>

namespace b2bseg {

/// Progress of a load: bytes of CSV parsed so far out of the total, and the entity being loaded.
/// Called from the loading thread only.
using load_progress =
    std::function<void(const std::string& entity, std::uint64_t done, std::uint64_t total)>;

struct load_options {
  /// Turn bad values and dangling links into nulls and drop later duplicate rows, counting each,
  /// instead of failing (SPEC 2.2 `--lenient`).
  bool lenient = false;
  /// Chunks per file for parallel parsing; 0 picks from the worker count.
  unsigned chunks = 0;
  load_progress progress;
};

/// What a load met. In lenient mode, every value turned into null and every row dropped is
/// counted here: nothing is silently dropped.
struct load_report {
  struct entity_info {
    std::string entity;
    std::string file;
    std::uint64_t rows = 0;   ///< rows kept
    std::uint64_t bytes = 0;  ///< CSV bytes read
    double parse_ms = 0;
    double index_ms = 0;
  };
  std::vector<entity_info> entities;
  /// One source of an entity with sources (SPEC 2.3).
  struct source_info {
    std::string entity;
    std::string source;
    std::string file;
    std::uint64_t rows_read = 0;  ///< records in the file
    std::uint64_t rows = 0;       ///< rows kept (lenient: without those dropped)
    std::uint64_t profiles = 0;   ///< profiles the kept rows feed
  };
  std::vector<source_info> sources;
  /// The identity resolution of one entity with sources.
  struct resolution_info {
    std::string entity;
    std::uint64_t rows = 0;             ///< source rows resolved
    std::uint64_t profiles = 0;         ///< profiles kept
    std::uint64_t merged = 0;           ///< profiles of more than one row
    std::uint64_t multi_source = 0;     ///< profiles with rows of more than one source
    std::uint64_t identity_values = 0;  ///< distinct (namespace, value) pairs
    std::uint64_t index_bytes = 0;      ///< memory of the identity values and their index
    double resolve_ms = 0;              ///< reading the sources and resolving
  };
  std::vector<resolution_info> resolutions;
  std::uint64_t rows_without_identity = 0;  ///< lenient: source rows without identity, dropped
  std::uint64_t oversized_profiles = 0;     ///< lenient: profiles over max_rows_per_profile
  std::uint64_t oversized_rows = 0;         ///< lenient: their rows, dropped
  std::uint64_t bad_values = 0;             ///< lenient: unparsable values turned into null
  std::uint64_t duplicate_keys = 0;  ///< lenient: later rows with a key already seen, dropped
  std::uint64_t dangling_links = 0;  ///< lenient: links to missing keys turned into null
  /// lenient: one line per (file, column, kind) with its count and the first example,
  /// e.g. "person.csv: column 'lead_score': 3 bad int values (first: line 17, 'abc')".
  std::vector<std::string> issues;
  double load_ms = 0;
  std::uint64_t total_bytes = 0;
  std::uint64_t total_rows = 0;
};

}  // namespace b2bseg
