// The synthetic B2B dataset generator: schema.json plus one CSV per entity, deterministic per seed.
#pragma once

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <functional>
#include <map>
#include <string>
#include <system_error>
#include <vector>

#include <tbb/parallel_for.h>
#include <tbb/task_arena.h>
#include <tbb/task_group.h>

#include "b2bseg/common/error.hpp"
#include "b2bseg/common/types.hpp"
#include "b2bseg/exec/parallel.hpp"
#include "b2bseg/gen/b2b_schema.hpp"
#include "b2bseg/gen/csv_text.hpp"
#include "b2bseg/gen/model.hpp"
#include "b2bseg/gen/rows.hpp"

namespace b2bseg {

/// The default as-of instant of generated data: 2026-11-22T00:00:00Z.
inline constexpr timestamp_us default_generate_as_of =
    detail::gen::days_from_civil(2026, 11, 22) * detail::gen::seconds_per_day * 1000000;

/// What to generate.
struct generate_options {
  std::uint64_t people = 10000;  ///< people; accounts are ~people/10, events ~10/person
  std::uint64_t seed = 42;       ///< same seed (and other options): same bytes
  timestamp_us as_of = default_generate_as_of;  ///< activity lies in the two years before it
  unsigned threads = 0;                         ///< 0: all cores; does not change the output
};

/// Progress callback: (done_units, total_units). Called from the calling thread only.
using generate_progress = std::function<void(std::uint64_t, std::uint64_t)>;

/// What was written: rows per entity (without CSV headers) and total bytes of all files.
struct generate_report {
  std::map<std::string, std::uint64_t> rows;
  std::uint64_t bytes = 0;
};

/// The default B2B schema as schema.json text (SPEC 2.1), exactly as generate_dataset writes it.
inline std::string default_b2b_schema_json() {
  return detail::gen::b2b_schema_json();
}

namespace detail::gen {

/// A file written aside (`NAME.tmp`) and renamed into place by `commit`; removed if not committed.
class output_file {
 public:
  output_file() = default;
  output_file(const output_file&) = delete;
  output_file& operator=(const output_file&) = delete;
  ~output_file() {
    if (f_) std::fclose(f_);
    if (!tmp_.empty() && !committed_) {
      std::error_code ec;
      std::filesystem::remove(tmp_, ec);
    }
  }
  void open(const std::filesystem::path& final_path) {
    final_ = final_path;
    tmp_ = final_path;
    tmp_ += ".tmp";
    f_ = std::fopen(tmp_.c_str(), "wb");
    if (!f_) fail("cannot create file");
    std::setvbuf(f_, nullptr, _IOFBF, 1 << 20);
  }
  void write(const std::string& s) {
    if (s.empty()) return;
    if (std::fwrite(s.data(), 1, s.size(), f_) != s.size()) fail("write failed");
    bytes_ += s.size();
  }
  void close() {
    std::FILE* f = f_;
    f_ = nullptr;
    if (std::fclose(f) != 0) fail("write failed");
  }
  void commit() {
    std::error_code ec;
    std::filesystem::rename(tmp_, final_, ec);
    if (ec) throw data_error(final_.string(), 0, 0, "cannot rename into place: " + ec.message());
    committed_ = true;
  }
  std::uint64_t bytes() const noexcept { return bytes_; }

 private:
  [[noreturn]] void fail(const char* what) {
    throw data_error(tmp_.string(), 0, 0, std::string(what) + ": " + std::strerror(errno));
  }
  std::filesystem::path final_, tmp_;
  std::FILE* f_ = nullptr;
  std::uint64_t bytes_ = 0;
  bool committed_ = false;
};

/// Generates `count` rows in blocks of `block_rows` into `Block`s (`gen(lo, hi, block)`, after
/// `block.clear()`), `batch` blocks at a time in parallel, and hands each batch's blocks in order
/// to `write` on the calling thread while the next batch is being generated; `advance(rows)` after
/// each batch. Output order and content do not depend on the thread count.
template <typename Block, typename Gen, typename Write>
void run_block_pipeline(std::uint64_t count, std::uint64_t block_rows, std::size_t batch, Gen&& gen,
                        Write&& write, const std::function<void(std::uint64_t)>& advance) {
  const std::uint64_t blocks = (count + block_rows - 1) / block_rows;
  if (blocks == 0) return;
  std::vector<Block> cur(batch), next(batch);
  auto generate = [&, block_rows, count, batch, blocks](std::uint64_t first_block,
                                                        std::vector<Block>& outs) {
    const std::uint64_t n = std::min<std::uint64_t>(batch, blocks - first_block);
    b2bseg::detail::parallel_for(std::uint64_t{0}, n, [&](std::uint64_t i) {
      const std::uint64_t lo = (first_block + i) * block_rows;
      outs[i].clear();
      gen(lo, std::min(count, lo + block_rows), outs[i]);
    });
  };
  generate(0, cur);
  tbb::task_group tg;
  for (std::uint64_t b = 0; b < blocks; b += batch) {
    const bool more = b + batch < blocks;
    if (more) tg.run([&generate, &next, b, batch] { generate(b + batch, next); });
    try {
      const std::uint64_t n = std::min<std::uint64_t>(batch, blocks - b);
      for (std::uint64_t i = 0; i < n; ++i) write(cur[i]);
      advance(std::min(count, (b + n) * block_rows) - std::min(count, b * block_rows));
    } catch (...) {
      tg.cancel();
      tg.wait();
      throw;
    }
    tg.wait();
    std::swap(cur, next);
  }
}

/// Appends a block's CSV buffers (`csv[i]`, a csv_rows, for file i) to `files` and counts their
/// rows.
template <typename Csv>
void append_block(std::vector<output_file>& files, std::vector<std::uint64_t>& rows,
                  const Csv& csv) {
  for (std::size_t i = 0; i < files.size(); ++i) {
    files[i].write(csv[i].text());
    rows[i] += csv[i].rows();
  }
}

/// `run_block_pipeline` over the plain dataset's entities: `fn(pl, lo, hi, block_output&)` fills
/// the blocks, which are appended to `files` and counted in `rows`.
template <typename Fn>
void run_blocks(const plan& pl, std::uint64_t count, std::uint64_t block_rows, std::size_t batch,
                Fn&& fn, std::vector<output_file>& files, std::vector<std::uint64_t>& rows,
                const std::function<void(std::uint64_t)>& advance) {
  run_block_pipeline<block_output>(
      count, block_rows, batch,
      [&pl, &fn](std::uint64_t lo, std::uint64_t hi, block_output& b) { fn(pl, lo, hi, b); },
      [&files, &rows](block_output& b) { append_block(files, rows, b.csv); }, advance);
}

/// One output file of a generator run: its path in the output folder (subfolders allowed), its
/// header line, and the name its rows are reported under.
struct output_spec {
  std::string path;
  std::string header;
  std::string name;
};

/// The frame of a generator run: creates `dir` and the folders of the outputs, opens every output
/// aside with its header, builds the plan in a oneTBB arena of `options.threads`, calls
/// `body(pl, batch, files, rows, advance)` (files and rows in the order of `outputs`; `advance(n)`
/// after n of the accounts + people are written), writes `schema_json` as schema.json, and
/// renames everything into place. Throws data_error on I/O failure; nothing is renamed then.
template <typename Body>
generate_report run_generator(const std::string& dir, const generate_options& options,
                              const generate_progress& progress,
                              const std::vector<output_spec>& outputs,
                              const std::string& schema_json, Body&& body) {
  namespace fs = std::filesystem;
  std::vector<fs::path> folders{fs::path(dir)};
  for (const output_spec& o : outputs) {
    const fs::path parent = (fs::path(dir) / o.path).parent_path();
    if (std::find(folders.begin(), folders.end(), parent) == folders.end())
      folders.push_back(parent);
  }
  for (const fs::path& d : folders) {
    std::error_code ec;
    fs::create_directories(d, ec);
    if (ec || !fs::is_directory(d))
      throw data_error(d.string(), 0, 0,
                       "cannot create directory" + (ec ? ": " + ec.message() : std::string()));
  }
  tbb::task_arena arena(options.threads ? static_cast<int>(std::min(options.threads, max_threads))
                                        : tbb::task_arena::automatic);
  generate_report report;
  arena.execute([&] {
    const std::size_t batch = 2 * static_cast<std::size_t>(arena.max_concurrency()) + 2;
    const plan pl = build_plan(options.people, options.seed, floor_div(options.as_of, 1000000));
    std::vector<output_file> files(outputs.size());
    std::vector<std::uint64_t> rows(outputs.size(), 0);
    for (std::size_t i = 0; i < outputs.size(); ++i) {
      files[i].open(fs::path(dir) / outputs[i].path);
      files[i].write(outputs[i].header);
    }
    const std::uint64_t total = pl.accounts + pl.people;
    std::uint64_t done = 0;
    const std::function<void(std::uint64_t)> advance = [&](std::uint64_t n) {
      done += n;
      if (progress) progress(done, total);
    };
    if (progress) progress(0, total);
    body(pl, batch, files, rows, advance);
    output_file schema;
    schema.open(fs::path(dir) / "schema.json");
    schema.write(schema_json);
    schema.close();
    for (auto& f : files) f.close();
    for (std::size_t i = 0; i < outputs.size(); ++i) {
      report.rows[outputs[i].name] = rows[i];
      report.bytes += files[i].bytes();
    }
    report.bytes += schema.bytes();
    for (auto& f : files) f.commit();
    schema.commit();
  });
  return report;
}

}  // namespace detail::gen

/// Writes schema.json + one CSV per entity into `out_dir` (created if missing): ~people/10
/// accounts, ~0.3 opportunities and ~10 events per person, and the relations between them (see
/// datasets/README.md). Same options -> same bytes, whatever the thread count. Each file is
/// written aside and renamed into place. Runs in a oneTBB arena of `threads` threads; memory is
/// O(people/10) for the plan plus a few MB per thread of row buffers.
/// Throws data_error on I/O failure.
inline generate_report generate_dataset(const std::string& out_dir, const generate_options& options,
                                        const generate_progress& progress = {}) {
  using namespace detail::gen;
  std::vector<output_spec> outputs;
  for (const entity_desc& e : b2b_entities)
    outputs.push_back({std::string(e.file), csv_header(e), std::string(e.name)});
  return run_generator(
      out_dir, options, progress, outputs, b2b_schema_json(),
      [](const detail::gen::plan& pl, std::size_t batch, std::vector<output_file>& files,
         std::vector<std::uint64_t>& rows, const std::function<void(std::uint64_t)>& advance) {
        run_blocks(pl, pl.accounts, 256, batch, write_account_block, files, rows, advance);
        block_output small;
        write_campaigns_and_lists(pl, small);
        append_block(files, rows, small.csv);
        run_blocks(pl, pl.people, 1024, batch, write_person_block, files, rows, advance);
      });
}

}  // namespace b2bseg
