// The b2bseg command (generate, eval, check, explain, stats, activate, stream, serve, snapshot,
// overlap, why): a thin layer over the header-only library.
#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include <fcntl.h>
#include <tbb/global_control.h>
#include <tbb/task_arena.h>
#include <unistd.h>

#include <pthread.h>
#include <sys/resource.h>
#include <atomic>
#include <condition_variable>
#include <csignal>
#include <mutex>
#include <thread>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iostream>
#include <map>
#include <set>
#include <sstream>

#include "b2bseg/activate/activate.hpp"
#include "b2bseg/b2bseg.hpp"
#include "b2bseg/common/edit_distance.hpp"
#include "b2bseg/dist/activate.hpp"
#include "b2bseg/dist/evaluate.hpp"
#if B2BSEG_MPI
#include "b2bseg/dist/mpi_comm.hpp"
#endif
#include "b2bseg/gen/generator.hpp"
#include "b2bseg/gen/sources.hpp"
#include "b2bseg/live/stream.hpp"
#include "b2bseg/serve/http.hpp"
#include "b2bseg/serve/service.hpp"

namespace fs = std::filesystem;

namespace {

/// A usage error: exit status 2.
struct usage_error : std::runtime_error {
  using std::runtime_error::runtime_error;
};

bool stderr_is_terminal() {
  return ::isatty(2) == 1;
}

/// A one-line progress bar on stderr, drawn only when stderr is a terminal.
class progress_bar {
 public:
  explicit progress_bar(std::string what) : what_(std::move(what)), on_(stderr_is_terminal()) {}
  ~progress_bar() { finish(); }
  void update(const std::string& item, std::uint64_t done, std::uint64_t total) {
    if (!on_) return;
    double f = total ? double(done) / double(total) : 1.0;
    int filled = static_cast<int>(f * 30);
    std::fprintf(stderr, "\r%s [%-30s] %3d%% %-24s", what_.c_str(),
                 std::string(filled, '#').c_str(), int(f * 100), item.c_str());
    std::fflush(stderr);
    drawn_ = true;
  }
  void finish() {
    if (on_ && drawn_) std::fprintf(stderr, "\r%-80s\r", "");
    drawn_ = false;
  }

 private:
  std::string what_;
  bool on_;
  bool drawn_ = false;
};

std::string read_text_file(const std::string& path) {
  std::error_code ec;
  if (fs::is_directory(path, ec))
    throw b2bseg::data_error(path, 0, 0, "is a folder; expected a segments file");
  std::ifstream in(path, std::ios::binary);
  if (!in)
    throw b2bseg::data_error(path, 0, 0, std::string("cannot open: ") + std::strerror(errno));
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

b2bseg::timestamp_us parse_as_of(const std::string& s) {
  if (s.empty()) return b2bseg::current_time();
  b2bseg::timestamp_us t = 0;
  if (!b2bseg::parse_timestamp(s, t))
    throw usage_error("--as-of: '" + s +
                      "' is not an ISO 8601 timestamp (e.g. 2026-11-22T00:00:00Z)");
  return t;
}

b2bseg::load_options load_options_for(bool lenient, progress_bar& bar) {
  b2bseg::load_options o;
  o.lenient = lenient;
  o.progress = [&bar](const std::string& entity, std::uint64_t done, std::uint64_t total) {
    bar.update(entity, done, total);
  };
  return o;
}

void print_lenient_report(const b2bseg::load_report& rep) {
  if (rep.issues.empty()) return;
  std::fprintf(stderr, "lenient load: %llu bad values, %llu duplicate keys, %llu dangling links",
               (unsigned long long)rep.bad_values, (unsigned long long)rep.duplicate_keys,
               (unsigned long long)rep.dangling_links);
  if (rep.rows_without_identity || rep.oversized_profiles)
    std::fprintf(stderr,
                 ", %llu source rows without identity, %llu oversized profiles (%llu rows) "
                 "dropped",
                 (unsigned long long)rep.rows_without_identity,
                 (unsigned long long)rep.oversized_profiles,
                 (unsigned long long)rep.oversized_rows);
  std::fprintf(stderr, "\n");
  for (const auto& i : rep.issues)
    std::fprintf(stderr, "  %s\n", b2bseg::detail::escape_controls(i).c_str());
}

/// Reads the schema and compiles the segments file; compile errors throw compile_error.
b2bseg::bound_file compile_file(const std::string& data, const std::string& segments,
                                b2bseg::schema* schema_out = nullptr) {
  b2bseg::schema local;
  b2bseg::schema& s = schema_out ? *schema_out : local;
  s = b2bseg::read_data_schema(data);
  std::string text = read_text_file(segments);
  return b2bseg::compile_segments(text, s, segments);
}

std::vector<std::uint32_t> select_segments(const b2bseg::bound_file& f,
                                           const std::vector<std::string>& names) {
  std::vector<std::uint32_t> out;
  for (const auto& n : names) {
    int i = f.find(n);
    if (i < 0) {
      std::vector<std::string_view> known;
      for (const auto& s : f.segments) known.push_back(s.name);
      std::string hint = b2bseg::closest_name(n, known);
      throw usage_error("unknown segment '" + n + "'" +
                        (hint.empty() ? "" : " (did you mean '" + hint + "'?)"));
    }
    out.push_back(static_cast<std::uint32_t>(i));
  }
  return out;
}

std::string human_bytes(std::uint64_t b) {
  char buf[32];
  if (b >= (1ull << 30))
    std::snprintf(buf, sizeof buf, "%.2f GiB", b / double(1ull << 30));
  else if (b >= (1ull << 20))
    std::snprintf(buf, sizeof buf, "%.1f MiB", b / double(1ull << 20));
  else if (b >= 1024)
    std::snprintf(buf, sizeof buf, "%.1f KiB", b / 1024.0);
  else
    std::snprintf(buf, sizeof buf, "%llu B", (unsigned long long)b);
  return buf;
}

/// Refuses (usage error) an output folder that is the dataset folder, or output files that are
/// one of the run's inputs (schema.json, the segments file, a CSV the schema names, or the
/// snapshot file): writing there would destroy the data.
void refuse_overwriting_inputs(const b2bseg::schema& s, const std::string& data,
                               const std::string& segments, const std::string& out,
                               const std::vector<std::string>& outputs) {
  std::error_code ec;
  const bool snapshot = b2bseg::names_a_file(data);
  if (fs::equivalent(out, data, ec))
    throw usage_error("--out '" + out + "' is the dataset" + (snapshot ? "" : " folder") +
                      "; choose another " + (snapshot ? "path" : "folder"));
  // A snapshot is one input file; a folder holds schema.json and every file the schema names.
  std::vector<fs::path> inputs{fs::path(segments)};
  if (snapshot) {
    inputs.push_back(fs::path(data));
  } else {
    inputs.push_back(fs::path(data) / "schema.json");
    for (const auto& e : s.entities) {
      if (!e.file.empty()) inputs.push_back(fs::path(data) / e.file);
      for (const auto& src : e.sources) inputs.push_back(fs::path(data) / src.file);
    }
  }
  for (const auto& o : outputs)
    for (const auto& in : inputs)
      if (fs::equivalent(o, in, ec))
        throw usage_error("--out: writing '" + o + "' would overwrite the input '" + in.string() +
                          "'; choose another folder");
}

/// Loads the dataset (or maps the snapshot) with a progress bar, `threads` worker threads (0 = all
/// cores), and prints the lenient report.
b2bseg::graph load_graph(const std::string& data, bool lenient, unsigned threads,
                         b2bseg::load_report& rep) {
  progress_bar bar("loading");
  std::unique_ptr<tbb::global_control> cap;
  if (threads)
    cap = std::make_unique<tbb::global_control>(tbb::global_control::max_allowed_parallelism,
                                                threads);
  b2bseg::graph g = b2bseg::open_data(data, load_options_for(lenient, bar), &rep);
  bar.finish();
  print_lenient_report(rep);
  return g;
}

/// A snapshot that shrank or was rewritten while it was mapped has given zeros for some reads:
/// nothing computed from it is written.
void check_not_changed(const b2bseg::graph& g, const std::string& data) {
  if (g.mapping_changed())
    throw b2bseg::data_error(data, 0, 0,
                             "snapshot changed while it was in use; nothing written (run again)");
}

/// The segments were compiled against the schema read first; the data loaded must have the same
/// one (a snapshot or schema.json replaced in between would not).
void check_same_schema(const b2bseg::schema& compiled, const b2bseg::graph& g,
                       const std::string& data) {
  if (b2bseg::to_json(compiled) != b2bseg::to_json(g.schema()))
    throw b2bseg::data_error(data, 0, 0,
                             "the schema changed while the segments were compiled; nothing "
                             "written (run again)");
}

// --- eval -------------------------------------------------------------------------------------
/// One segment's output file: NAME.csv text and its summary line.
struct result_file {
  std::string name, entity, csv;
  std::uint64_t count = 0;
  double eval_ms = 0;
};

/// Writes NAME.csv per entry of `files_out` and summary.json into folder `out` (SPEC 4), all
/// staged and renamed into place together once `before_commit` (which may throw) has run.
void write_result_files(const std::string& out, const std::vector<result_file>& files_out,
                        b2bseg::timestamp_us as_of, const std::string& data, double load_ms,
                        double eval_ms, const std::function<void()>& before_commit) {
  b2bseg::staged_files files;
  nlohmann::ordered_json summary;
  summary["as_of"] = b2bseg::format_timestamp(as_of);
  summary["dataset"] = data;
  summary["load_ms"] = load_ms;
  summary["eval_ms"] = eval_ms;
  summary["segments"] = nlohmann::json::array();
  for (const auto& r : files_out) {
    files.write((fs::path(out) / (r.name + ".csv")).string(), r.csv);
    summary["segments"].push_back(
        {{"name", r.name}, {"entity", r.entity}, {"count", r.count}, {"eval_ms", r.eval_ms}});
  }
  // Paths need not be UTF-8: invalid bytes become U+FFFD rather than failing after the work.
  files.write((fs::path(out) / "summary.json").string(),
              summary.dump(2, ' ', false, nlohmann::json::error_handler_t::replace) + "\n");
  before_commit();
  files.commit();
}

/// write_result_files for the results of one process's evaluation.
void write_results(const std::string& out, const b2bseg::graph& g,
                   const std::vector<const b2bseg::segment_result*>& shown,
                   b2bseg::timestamp_us as_of, const std::string& data, double load_ms,
                   double eval_ms, const std::function<void()>& before_commit) {
  std::vector<result_file> files_out;
  for (const auto* s : shown)
    files_out.push_back({s->name, g.schema().entities[s->entity].name,
                         b2bseg::members_csv(g, s->entity, s->members), s->members.cardinality(),
                         s->eval_ms});
  write_result_files(out, files_out, as_of, data, load_ms, eval_ms, before_commit);
}

/// The table eval prints on success.
void print_eval_table(const std::vector<result_file>& shown, std::uint64_t rows, double load_ms,
                      double eval_ms, b2bseg::timestamp_us as_of, const std::string& out) {
  std::size_t w = 7;
  for (const auto& s : shown) w = std::max(w, s.name.size());
  std::printf("%-*s  %-14s %12s %10s\n", int(w), "segment", "entity", "members", "time (ms)");
  for (const auto& s : shown)
    std::printf("%-*s  %-14s %12llu %10.3f\n", int(w), s.name.c_str(), s.entity.c_str(),
                (unsigned long long)s.count, s.eval_ms);
  std::printf("\n%zu segments over %llu rows: loaded in %.0f ms, evaluated in %.3f ms (as of %s)\n",
              shown.size(), (unsigned long long)rows, load_ms, eval_ms,
              b2bseg::format_timestamp(as_of).c_str());
  std::printf("results: %s/<segment>.csv and %s/summary.json\n", out.c_str(), out.c_str());
}

struct eval_args {
  std::string data, segments, out, as_of;
  std::vector<std::string> only;
  unsigned threads = 0;
  bool lenient = false;
  bool quiet = false;
};

/// Refuses an output folder whose files would overwrite the inputs, then creates it. Throws
/// data_error.
void prepare_eval_out(const eval_args& a, const b2bseg::schema& schema,
                      const b2bseg::bound_file& f) {
  std::vector<std::string> outputs{(fs::path(a.out) / "summary.json").string()};
  for (const auto& s : f.segments)
    outputs.push_back((fs::path(a.out) / (s.name + ".csv")).string());
  refuse_overwriting_inputs(schema, a.data, a.segments, a.out, outputs);
  b2bseg::create_output_folder(a.out);
}

int run_eval(const eval_args& a) {
  b2bseg::timestamp_us as_of = parse_as_of(a.as_of);
  b2bseg::schema schema;
  b2bseg::bound_file f = compile_file(a.data, a.segments, &schema);
  std::vector<std::uint32_t> selected = select_segments(f, a.only);
  prepare_eval_out(a, schema, f);
  b2bseg::folder_lock lock(a.out);  // a second run into the same folder fails here

  b2bseg::load_report rep;
  b2bseg::graph g = load_graph(a.data, a.lenient, a.threads, rep);
  check_same_schema(schema, g, a.data);

  b2bseg::executor ex(g, a.threads);
  b2bseg::evaluation ev = ex.run(b2bseg::build_plan(g.schema(), f, as_of, selected), f);
  check_not_changed(g, a.data);

  std::set<std::string> wanted(a.only.begin(), a.only.end());
  std::vector<const b2bseg::segment_result*> shown;
  for (const auto& s : ev.segments)
    if (wanted.empty() || wanted.count(s.name)) shown.push_back(&s);
  // The member keys were read from the graph too: a snapshot changed meanwhile writes nothing.
  write_results(a.out, g, shown, as_of, a.data, rep.load_ms, ev.eval_ms,
                [&] { check_not_changed(g, a.data); });

  if (!a.quiet) {
    std::vector<result_file> table;
    for (auto* s : shown)
      table.push_back(
          {s->name, g.schema().entities[s->entity].name, "", s->members.cardinality(), s->eval_ms});
    print_eval_table(table, rep.total_rows, rep.load_ms, ev.eval_ms, as_of, a.out);
  }
  return 0;
}

/// The start that commands over processes share: `prepare` (compiling, checking options and
/// inputs) runs on every process. A compile or usage error is the same everywhere: process 0
/// reports it and every process returns 2. A data error is agreed on: every process throws the
/// first one (agreed_error). Returns 0 when every process is ready.
int prepare_on_every_process(b2bseg::dist::communicator& c, const std::function<void()>& prepare) {
  namespace dist = b2bseg::dist;
  std::string compile_failure;
  std::optional<dist::ranked_error> err;
  try {
    prepare();
  } catch (const b2bseg::compile_error& e) {
    compile_failure = std::string(e.what()) + std::to_string(e.diagnostics().size()) + " error" +
                      (e.diagnostics().size() == 1 ? "" : "s") + "; nothing evaluated\n";
  } catch (const usage_error& e) {
    compile_failure = std::string("error: ") + e.what() + "\n";
  } catch (const b2bseg::data_error& e) {
    err = dist::ranked_error{{0, static_cast<std::uint64_t>(c.rank())}, "", 0, 0, e.what()};
  }
  const auto failed = dist::all_gather(c, compile_failure);
  for (const auto& m : failed)
    if (!m.empty()) {
      if (c.rank() == 0) std::fputs(m.c_str(), stderr);
      return 2;
    }
  dist::agree_on_error(c, err ? &*err : nullptr);
  return 0;
}

/// What every command over processes refuses for now (usage_error, data_error).
void refuse_what_processes_cannot_do(bool lenient, const std::string& data) {
  if (lenient)
    throw usage_error("--lenient does not run over several processes yet; run in one process");
  if (b2bseg::names_a_file(data))
    throw b2bseg::data_error(data, 0, 0,
                             "a snapshot cannot be spread over several processes yet; give the "
                             "dataset folder");
}

/// Removes a folder and what it holds when it goes out of scope (errors ignored).
struct remove_on_exit {
  std::string dir;
  ~remove_on_exit() {
    std::error_code ec;
    fs::remove_all(dir, ec);
  }
};

/// What a run over processes holds while it runs: its options (its instant, the segments it
/// evaluates, threads per process, a fresh work folder of this machine named after this
/// process), the cap on threads, and the work folder's removal at the end.
struct dist_run {
  b2bseg::dist::dist_options options;
  std::unique_ptr<tbb::global_control> cap;
  remove_on_exit work;
};

dist_run dist_run_for(b2bseg::timestamp_us as_of, std::vector<std::uint32_t> selected,
                      unsigned threads) {
  b2bseg::dist::dist_options o;
  o.as_of = as_of;
  o.selected = std::move(selected);
  o.threads = threads;
  o.work_dir = (fs::temp_directory_path() / ("b2bseg-dist-" + std::to_string(::getpid()))).string();
  std::unique_ptr<tbb::global_control> cap;
  if (threads)
    cap = std::make_unique<tbb::global_control>(tbb::global_control::max_allowed_parallelism,
                                                threads);
  std::string dir = o.work_dir;
  return dist_run{std::move(o), std::move(cap), remove_on_exit{std::move(dir)}};
}

/// `eval` over the processes of `c` (SPEC 8): every process runs it; process 0 writes the
/// files and prints. Errors are agreed on, so that every process stops with the same status.
[[maybe_unused]] int run_eval_dist(const eval_args& a, b2bseg::dist::communicator& c) {
  namespace dist = b2bseg::dist;
  const bool lead = c.rank() == 0;
  b2bseg::timestamp_us as_of = 0;
  b2bseg::schema schema;
  b2bseg::bound_file f;
  std::vector<std::uint32_t> selected;
  if (const int rc = prepare_on_every_process(c, [&] {
        refuse_what_processes_cannot_do(a.lenient, a.data);
        as_of = parse_as_of(a.as_of);
        f = compile_file(a.data, a.segments, &schema);
        selected = select_segments(f, a.only);
        if (lead) prepare_eval_out(a, schema, f);
      }))
    return rc;
  std::optional<b2bseg::folder_lock> lock;
  dist::on_first(c, [&] { lock.emplace(a.out); });  // a second run into the folder fails here

  const dist_run run = dist_run_for(as_of, selected, a.threads);
  dist::dist_result res = dist::evaluate_distributed(c, a.data, schema, f, run.options);

  std::set<std::string> wanted(a.only.begin(), a.only.end());
  std::vector<result_file> shown;
  for (auto& s : res.segments)
    if (wanted.empty() || wanted.count(s.name))
      shown.push_back(
          {s.name, schema.entities[s.entity].name, std::move(s.csv), s.count, s.eval_ms});
  dist::on_first(
      c, [&] { write_result_files(a.out, shown, as_of, a.data, res.load_ms, res.eval_ms, [] {}); });
  std::string held = std::to_string(res.rows_held) + " " + std::to_string(res.rows_owned) + " " +
                     std::to_string(res.bytes_sent);
  for (const auto& ph : res.phases)
    held += " " + ph.name + "=" + std::to_string(ph.ms) + "=" + std::to_string(ph.peak_bytes);
  const auto sizes = dist::all_gather(c, held);
  if (lead && !a.quiet) {
    std::uint64_t rows = 0;
    for (const auto& m : sizes) rows += std::stoull(m.substr(m.find(' ') + 1));
    print_eval_table(shown, rows, res.load_ms, res.eval_ms, as_of, a.out);
    std::printf("processes: %d\n", c.size());
    for (int r = 0; r < c.size(); ++r) {
      std::istringstream in(sizes[r]);
      unsigned long long h = 0, own = 0, sent = 0;
      in >> h >> own >> sent;
      std::printf("  process %d: %llu own rows, %llu held, %s sent; load phases (ms, peak memory):",
                  r, own, h, human_bytes(sent).c_str());
      std::string phase;
      while (in >> phase) {
        const auto eq = phase.find('='), eq2 = phase.rfind('=');
        std::printf(" %s %.0f (%s)", phase.substr(0, eq).c_str(),
                    std::stod(phase.substr(eq + 1, eq2 - eq - 1)),
                    human_bytes(std::stoull(phase.substr(eq2 + 1))).c_str());
      }
      std::printf("\n");
    }
  }
  return 0;
}

// --- activate ---------------------------------------------------------------------------------
struct activate_args {
  std::string data, segments, destinations, out, as_of;
  unsigned threads = 0;
  bool full = false, lenient = false, quiet = false;
};

/// The table activate prints (destination errors on standard error); returns 1 when a
/// destination failed, else 0.
int print_activation(const std::vector<b2bseg::destination_report>& reports, bool quiet) {
  int rc = 0;
  std::size_t w = 11;
  for (const auto& r : reports) w = std::max(w, r.name.size());
  if (!quiet)
    std::printf("%-*s  %-22s %10s %9s %6s  %s\n", int(w), "destination", "type", "rows", "skipped",
                "files", "folder");
  for (const auto& r : reports) {
    if (!r.error.empty()) {
      std::fprintf(stderr,
                   "error: destination '%s': %s (nothing handed over; the next run "
                   "hands the same changes)\n",
                   r.name.c_str(), b2bseg::detail::escape_controls(r.error).c_str());
      rc = 1;
      continue;
    }
    if (!quiet)
      std::printf("%-*s  %-22s %10llu %9llu %6zu  %s\n", int(w), r.name.c_str(),
                  std::string(b2bseg::to_string(r.type)).c_str(), (unsigned long long)r.rows(),
                  (unsigned long long)r.skipped(), r.files.size(), r.run_folder.c_str());
    for (const auto& warning : r.warnings)
      if (!quiet) std::printf("  warning: %s\n", warning.c_str());
  }
  return rc;
}

/// The destinations of `a` parsed against `s` and `f`, and the segments they name. Throws
/// compile_error for a bad destinations file.
std::vector<b2bseg::destination> read_destinations(const activate_args& a, const b2bseg::schema& s,
                                                   const b2bseg::bound_file& f,
                                                   std::vector<std::uint32_t>& selected) {
  std::vector<b2bseg::destination> dests =
      b2bseg::parse_destinations(read_text_file(a.destinations), s, f, a.destinations);
  std::vector<std::string> names;
  for (const auto& d : dests)
    names.insert(names.end(), d.segment_names.begin(), d.segment_names.end());
  selected = select_segments(f, names);
  return dests;
}

/// The activation options the command line asks for.
b2bseg::activate_options activate_options_of(const activate_args& a, b2bseg::timestamp_us as_of) {
  b2bseg::activate_options o;
  o.as_of = as_of;
  o.full = a.full;
  o.threads = a.threads;
  return o;
}

int run_activate(const activate_args& a) {
  b2bseg::timestamp_us as_of = parse_as_of(a.as_of);
  b2bseg::schema s;
  b2bseg::bound_file f = compile_file(a.data, a.segments, &s);
  // The destinations are checked before anything is loaded: a bad file writes nothing.
  std::vector<std::uint32_t> selected;
  const std::vector<b2bseg::destination> dests = read_destinations(a, s, f, selected);
  refuse_overwriting_inputs(s, a.data, a.segments, a.out, {});

  b2bseg::load_report rep;
  b2bseg::graph g = load_graph(a.data, a.lenient, a.threads, rep);
  check_same_schema(s, g, a.data);
  b2bseg::executor ex(g, a.threads);
  b2bseg::evaluation ev = ex.run(b2bseg::build_plan(g.schema(), f, as_of, selected), f);
  check_not_changed(g, a.data);
  return print_activation(b2bseg::activate(g, ev, dests, a.out, activate_options_of(a, as_of)),
                          a.quiet);
}

/// `activate` over the processes of `c` (SPEC 8): every process evaluates its own rows;
/// process 0 writes every destination's files and prints. Every process ends with process 0's
/// status.
[[maybe_unused]] int run_activate_dist(const activate_args& a, b2bseg::dist::communicator& c) {
  namespace dist = b2bseg::dist;
  const bool lead = c.rank() == 0;
  b2bseg::timestamp_us as_of = 0;
  b2bseg::schema s;
  b2bseg::bound_file f;
  std::vector<b2bseg::destination> dests;
  std::vector<std::uint32_t> selected;
  if (const int rc = prepare_on_every_process(c, [&] {
        refuse_what_processes_cannot_do(a.lenient, a.data);
        as_of = parse_as_of(a.as_of);
        f = compile_file(a.data, a.segments, &s);
        dests = read_destinations(a, s, f, selected);
        if (lead) refuse_overwriting_inputs(s, a.data, a.segments, a.out, {});
      }))
    return rc;
  const dist_run run = dist_run_for(as_of, selected, a.threads);
  // Errors are agreed on inside: every process throws the same agreed_error.
  const dist::dist_activation res = dist::activate_distributed(
      c, a.data, s, f, dests, a.out, run.options, activate_options_of(a, as_of));
  const int rc = c.rank() == 0 ? print_activation(res.reports, a.quiet) : 0;
  return std::stoi(dist::broadcast_from_first(c, std::to_string(rc)));
}

// --- stream -----------------------------------------------------------------------------------
struct stream_args {
  std::string data, segments, changes, out, final_out, as_of;
  std::size_t batch_size = 1000;
  int max_delay = 50;
  unsigned threads = 0;
  bool lenient = false, quiet = false;
};

int run_stream(const stream_args& a) {
  b2bseg::timestamp_us as_of = parse_as_of(a.as_of);
  b2bseg::schema schema;
  b2bseg::bound_file f = compile_file(a.data, a.segments, &schema);
  const bool from_stdin = a.changes.empty() || a.changes == "-";
  if (!a.out.empty()) {
    refuse_overwriting_inputs(schema, a.data, a.segments, a.out, {a.out});
    std::error_code ec;
    if (!from_stdin && fs::equivalent(a.out, a.changes, ec))
      throw usage_error("--out '" + a.out + "' is the change feed; choose another file");
  }
  std::unique_ptr<b2bseg::folder_lock> lock;
  if (!a.final_out.empty()) {
    std::vector<std::string> outputs{(fs::path(a.final_out) / "summary.json").string()};
    for (const auto& s : f.segments)
      outputs.push_back((fs::path(a.final_out) / (s.name + ".csv")).string());
    refuse_overwriting_inputs(schema, a.data, a.segments, a.final_out, outputs);
    b2bseg::create_output_folder(a.final_out);
    lock = std::make_unique<b2bseg::folder_lock>(a.final_out);
  }
  int fd = 0;
  if (!from_stdin) {
    std::error_code ec;
    if (fs::is_directory(a.changes, ec))
      throw b2bseg::data_error(a.changes, 0, 0, "is a folder; expected a change feed (NDJSON)");
    fd = ::open(a.changes.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0)
      throw b2bseg::data_error(a.changes, 0, 0,
                               std::string("cannot open: ") + std::strerror(errno));
  }
  struct fd_closer {
    int fd;
    ~fd_closer() {
      if (fd > 0) ::close(fd);
    }
  } closer{fd};

  b2bseg::load_report rep;
  b2bseg::graph g = load_graph(a.data, a.lenient, a.threads, rep);
  check_same_schema(schema, g, a.data);
  b2bseg::live_engine engine(g, std::make_shared<const b2bseg::bound_file>(std::move(f)),
                             {.as_of = as_of,
                              .lenient = a.lenient,
                              .threads = a.threads,
                              .dataset = a.data,
                              .load_lenient = a.lenient});
  check_not_changed(g, a.data);

  std::FILE* out = stdout;
  if (!a.out.empty()) {
    out = std::fopen(a.out.c_str(), "wb");
    if (!out)
      throw b2bseg::data_error(a.out, 0, 0, std::string("cannot write: ") + std::strerror(errno));
  }
  std::signal(SIGPIPE, SIG_IGN);  // a reader that went away is a write error, not a kill
  b2bseg::stream_options o;
  o.feed_name = from_stdin ? "<stdin>" : a.changes;
  o.batch_size = a.batch_size;
  o.max_delay_ms = a.max_delay;
  o.lenient = a.lenient;
  b2bseg::stream_totals t;
  try {
    t = b2bseg::run_stream(engine, fd, out, stderr, o);
  } catch (...) {
    if (out != stdout) std::fclose(out);
    throw;
  }
  if (out != stdout && std::fclose(out) != 0)
    throw b2bseg::data_error(a.out, 0, 0, std::string("cannot write: ") + std::strerror(errno));
  if (!a.quiet)
    std::fprintf(stderr,
                 "stream: %llu batches, %llu changes applied, %llu rejected, %llu entered, "
                 "%llu exited%s\n",
                 (unsigned long long)t.batches, (unsigned long long)t.applied,
                 (unsigned long long)t.rejected, (unsigned long long)t.entered,
                 (unsigned long long)t.exited,
                 t.failed ? "; stopped at the bad change (nothing of its batch applied)" : "");
  if (t.failed) return 1;
  if (!a.final_out.empty()) {
    const b2bseg::live_snapshot snap = engine.materialize();
    std::vector<const b2bseg::segment_result*> shown;
    for (const auto& s : snap.segments) shown.push_back(&s);
    write_results(a.final_out, snap.data, shown, snap.now, a.data, rep.load_ms,
                  engine.current()->eval_ms, [] {});
  }
  return 0;
}

// --- explain ----------------------------------------------------------------------------------
void print_tree(const b2bseg::evaluation& ev, std::uint32_t node, const std::string& prefix,
                bool last, bool top, std::set<std::uint32_t>& seen) {
  const auto& n = ev.plan.nodes[node];
  const auto& st = ev.nodes[node];
  std::string branch = top ? "" : (last ? "└─ " : "├─ ");
  bool repeat = seen.count(node) > 0;
  std::printf("%s%s#%u %s  [%llu rows, %.3f ms%s]%s\n", prefix.c_str(), branch.c_str(), node,
              n.label.c_str(), (unsigned long long)st.count, st.ms, n.uses > 1 ? ", shared" : "",
              repeat ? " (see above)" : "");
  if (repeat) return;
  seen.insert(node);
  std::string child_prefix = top ? "" : prefix + (last ? "   " : "│  ");
  for (std::size_t i = 0; i < n.inputs.size(); ++i)
    print_tree(ev, n.inputs[i], child_prefix, i + 1 == n.inputs.size(), false, seen);
}

int run_explain(const std::string& data, const std::string& segments, const std::string& name,
                const std::string& as_of_text, bool lenient) {
  b2bseg::timestamp_us as_of = parse_as_of(as_of_text);
  b2bseg::schema schema;
  b2bseg::bound_file f = compile_file(data, segments, &schema);
  std::vector<std::uint32_t> selected = select_segments(f, {name});
  b2bseg::load_report rep;
  b2bseg::graph g = load_graph(data, lenient, 0, rep);
  check_same_schema(schema, g, data);
  // Plan the whole file so that sharing with other segments shows, but compute only what `name`
  // needs.
  b2bseg::plan whole = b2bseg::build_plan(g.schema(), f, as_of);
  b2bseg::executor ex(g);
  b2bseg::evaluation ev = ex.run(b2bseg::build_plan(g.schema(), f, as_of, selected), f);
  check_not_changed(g, data);
  std::map<std::string, std::uint32_t> uses_in_file;
  for (const auto& n : whole.nodes) uses_in_file[n.key] = n.uses;
  for (auto& n : ev.plan.nodes) n.uses = std::max(n.uses, uses_in_file[n.key]);
  const b2bseg::segment_result* seg = nullptr;
  for (const auto& s : ev.segments)
    if (s.name == name) seg = &s;
  std::printf("segment %s on %s: %llu members, %.3f ms (as of %s)\n", name.c_str(),
              g.schema().entities[seg->entity].name.c_str(),
              (unsigned long long)seg->members.cardinality(), seg->eval_ms,
              b2bseg::format_timestamp(as_of).c_str());
  std::printf("plan: %zu nodes for the whole file, %zu sub-expressions shared\n",
              whole.nodes.size(), whole.requested - whole.nodes.size());
  std::set<std::uint32_t> seen;
  print_tree(ev, seg->node, "", true, true, seen);
  return 0;
}

// --- overlap and why --------------------------------------------------------------------------
struct inspect_args {
  std::string data, segments, as_of, entity, key;
  std::vector<std::string> only;
  bool json = false, lenient = false;
  unsigned threads = 0;
};

/// `overlap`: the named segments (or every segment on --entity, or every segment when all are on
/// one entity) evaluated, then every pair's intersection.
int run_overlap(const inspect_args& a) {
  const b2bseg::timestamp_us as_of = parse_as_of(a.as_of);
  b2bseg::schema schema;
  b2bseg::bound_file f = compile_file(a.data, a.segments, &schema);
  std::vector<std::uint32_t> chosen = select_segments(f, a.only);
  if (chosen.empty()) {
    std::set<std::string> entities;
    for (std::uint32_t i = 0; i < f.segments.size(); ++i) {
      const std::string& e = schema.entities[f.segments[i].entity].name;
      if (!a.entity.empty() && e != a.entity) continue;
      entities.insert(e);
      chosen.push_back(i);
    }
    if (chosen.empty())
      throw usage_error("--entity '" + a.entity + "': no segment of " + a.segments + " is on it");
    if (entities.size() > 1) {
      std::string list;
      for (const auto& e : entities) list += (list.empty() ? "" : ", ") + e;
      throw usage_error("the segments are on several entities (" + list +
                        "); choose one with --entity, or name segments with --segment");
    }
  }
  // Pairs list `a` before `b` in file order (SPEC 4), whatever order --segment named them in.
  std::sort(chosen.begin(), chosen.end());
  chosen.erase(std::unique(chosen.begin(), chosen.end()), chosen.end());
  const b2bseg::entity_id entity = f.segments[chosen[0]].entity;
  for (std::uint32_t i : chosen)
    if (f.segments[i].entity != entity)
      throw usage_error("segment '" + f.segments[i].name + "' is on " +
                        schema.entities[f.segments[i].entity].name + ", segment '" +
                        f.segments[chosen[0]].name + "' on " + schema.entities[entity].name +
                        ": overlap compares segments of one entity");
  b2bseg::load_report rep;
  b2bseg::graph g = load_graph(a.data, a.lenient, a.threads, rep);
  check_same_schema(schema, g, a.data);
  std::vector<std::string> names;
  for (std::uint32_t i : chosen) names.push_back(f.segments[i].name);
  const b2bseg::evaluation ev =
      b2bseg::evaluate(g, f, {.as_of = as_of, .threads = a.threads, .segments = names});
  std::vector<const Roaring*> sets;
  for (const auto& n : names)
    for (const auto& r : ev.segments)
      if (r.name == n) sets.push_back(&r.members);
  tbb::task_arena arena(a.threads ? static_cast<int>(a.threads) : tbb::task_arena::automatic);
  b2bseg::overlap_result o;
  arena.execute([&] { o = b2bseg::compute_overlap(g.rows(entity), sets, names); });
  check_not_changed(g, a.data);
  const std::string& en = g.schema().entities[entity].name;
  std::fputs((a.json ? b2bseg::overlap_json(o, en) : b2bseg::overlap_text(o, en)).c_str(), stdout);
  return 0;
}

/// `why`: one entity's way through one segment's condition.
int run_why(const inspect_args& a) {
  const b2bseg::timestamp_us as_of = parse_as_of(a.as_of);
  b2bseg::schema schema;
  b2bseg::bound_file f = compile_file(a.data, a.segments, &schema);
  const std::uint32_t seg = select_segments(f, a.only).at(0);
  b2bseg::load_report rep;
  b2bseg::graph g = load_graph(a.data, a.lenient, a.threads, rep);
  check_same_schema(schema, g, a.data);
  const b2bseg::entity_id e = f.segments[seg].entity;
  const b2bseg::row_id row = g.find_key(e, a.key);
  if (row == b2bseg::no_row)
    throw b2bseg::data_error("no " + g.schema().entities[e].name + " with key \"" +
                             b2bseg::detail::escape_controls(a.key) + "\" in " + a.data);
  const b2bseg::why_result w = b2bseg::explain_membership(g, f, seg, row, as_of);
  check_not_changed(g, a.data);
  std::fputs((a.json ? b2bseg::why_json(w) : b2bseg::why_text(w, g.schema())).c_str(), stdout);
  return 0;
}

// --- stats ------------------------------------------------------------------------------------
int run_stats(const std::string& data, bool lenient) {
  b2bseg::load_report rep;
  b2bseg::graph g = load_graph(data, lenient, 0, rep);
  const auto& s = g.schema();
  if (g.mapping())
    std::printf("snapshot %s: %llu rows, %s on disk, opened in %.0f ms, %s in memory\n\n",
                data.c_str(), (unsigned long long)rep.total_rows,
                human_bytes(rep.total_bytes).c_str(), rep.load_ms,
                human_bytes(g.memory_bytes()).c_str());
  else
    std::printf("dataset %s: %llu rows, %s of CSV, loaded in %.0f ms (%.0f MB/s), %s in memory\n\n",
                data.c_str(), (unsigned long long)rep.total_rows,
                human_bytes(rep.total_bytes).c_str(), rep.load_ms,
                rep.load_ms > 0 ? rep.total_bytes / 1e3 / rep.load_ms : 0.0,
                human_bytes(g.memory_bytes()).c_str());
  auto mem = g.memory_report();
  // SPEC 2.3: what each source fed and how much each entity with sources merged.
  for (const auto& r : rep.resolutions) {
    std::printf(
        "%s: %llu profiles from %llu source rows; %llu merge more than one row, %llu merge rows "
        "of more than one source; identity index %s (%.1f bytes/profile), resolved in "
        "%.0f ms\n",
        r.entity.c_str(), (unsigned long long)r.profiles, (unsigned long long)r.rows,
        (unsigned long long)r.merged, (unsigned long long)r.multi_source,
        human_bytes(r.index_bytes).c_str(), r.profiles ? double(r.index_bytes) / r.profiles : 0.0,
        r.resolve_ms);
    for (const auto& src : rep.sources)
      if (src.entity == r.entity)
        std::printf("  source %-20s %-36s %10llu rows read, %10llu kept, feeding %10llu profiles\n",
                    src.source.c_str(), src.file.c_str(), (unsigned long long)src.rows_read,
                    (unsigned long long)src.rows, (unsigned long long)src.profiles);
  }
  if (!rep.resolutions.empty()) std::printf("\n");
  for (b2bseg::entity_id e = 0; e < s.entities.size(); ++e) {
    const auto& def = s.entities[e];
    const auto& t = g.table(e);
    std::printf("%s: %llu rows, %s (%.1f bytes/row)%s\n", def.name.c_str(),
                (unsigned long long)t.rows, human_bytes(t.memory_bytes()).c_str(),
                t.rows ? double(t.memory_bytes()) / t.rows : 0.0,
                def.key ? (", key " + *def.key).c_str() : ", no key");
    std::printf("  %-24s %-10s %10s %10s %12s\n", "attribute", "type", "nulls", "distinct",
                "memory");
    for (std::size_t a = 0; a < def.attributes.size(); ++a) {
      const auto& c = t.columns[a];
      std::uint64_t distinct = 0;
      switch (c.type()) {
        case b2bseg::value_type::string:
        case b2bseg::value_type::string_list:
          distinct = c.dictionary().size();
          break;
        case b2bseg::value_type::boolean:
          distinct = (c.trues().cardinality() > 0) +
                     (c.trues().cardinality() + c.nulls().cardinality() < t.rows);
          break;
        case b2bseg::value_type::floating: {
          std::vector<double> v;
          for (std::size_t r = 0; r < t.rows; ++r)
            if (!c.is_null(b2bseg::row_id(r))) v.push_back(c.floats()[r]);
          std::sort(v.begin(), v.end());
          distinct = std::unique(v.begin(), v.end()) - v.begin();
          break;
        }
        default: {
          std::vector<std::int64_t> v;
          b2bseg::bitset nulls = b2bseg::to_bitset(c.nulls(), t.rows);
          for (std::size_t r = 0; r < t.rows; ++r)
            if (!nulls.test(r)) v.push_back(c.ints()[r]);
          std::sort(v.begin(), v.end());
          distinct = std::unique(v.begin(), v.end()) - v.begin();
        }
      }
      std::printf("  %-24s %-10s %10llu %10llu %12s\n", def.attributes[a].name.c_str(),
                  std::string(b2bseg::to_string(c.type())).c_str(),
                  (unsigned long long)c.nulls().cardinality(), (unsigned long long)distinct,
                  human_bytes(c.memory_bytes()).c_str());
    }
    for (std::size_t l = 0; l < def.links.size(); ++l) {
      const auto& li = t.links[l];
      const auto& ld = def.links[l];
      std::size_t targets_hit = 0;
      for (std::size_t p = 0; p < li.target_rows(); ++p)
        targets_hit += li.degree(b2bseg::row_id(p)) > 0;
      std::printf(
          "  link %s -> %s: %llu of %llu rows set (%.1f%%), reaching %llu of %llu %s%s, %s\n",
          ld.name.c_str(), ld.to.c_str(), (unsigned long long)li.set_count(),
          (unsigned long long)t.rows, t.rows ? 100.0 * li.set_count() / t.rows : 0.0,
          (unsigned long long)targets_hit, (unsigned long long)li.target_rows(), ld.to.c_str(),
          li.clustered() ? ", clustered" : "", human_bytes(li.memory_bytes()).c_str());
    }
    std::printf("\n");
  }
  std::printf("memory by structure:\n");
  for (const auto& m : mem)
    std::printf("  %-22s %-36s %12s\n", m.entity.c_str(), m.structure.c_str(),
                human_bytes(m.bytes).c_str());
  return 0;
}

// --- snapshot ---------------------------------------------------------------------------------
int run_snapshot(const std::string& data, const std::string& out, bool lenient, unsigned threads,
                 bool quiet) {
  const b2bseg::schema s = b2bseg::read_data_schema(data);
  refuse_overwriting_inputs(s, data, "", out, {out});
  std::error_code ec;
  if (fs::is_directory(out, ec))
    throw usage_error("--out '" + out + "' is a folder; expected the snapshot file to write");
  b2bseg::load_report rep;
  b2bseg::graph g = load_graph(data, lenient, threads, rep);
  auto t0 = std::chrono::steady_clock::now();
  // A dataset with sources: the snapshot carries the source rows too, so that `stream` and
  // `serve` can take changes to it (a snapshot read here carries them already).
  // (Empty without sources; refuses a graph whose own snapshot changed meanwhile.)
  const std::string sources =
      g.sources() ? std::string() : b2bseg::live_rows::saved_sources_of(g, data, lenient);
  b2bseg::write_snapshot(g, out, nullptr, sources.empty() ? nullptr : &sources);
  double ms =
      std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
  if (!quiet)
    std::printf("wrote %s: %llu rows, %s, in %.0f ms (loaded in %.0f ms)\n", out.c_str(),
                (unsigned long long)rep.total_rows, human_bytes(fs::file_size(out, ec)).c_str(), ms,
                rep.load_ms);
  return 0;
}

// --- generate ---------------------------------------------------------------------------------
int run_generate(std::uint64_t people, std::uint64_t seed, const std::string& out, unsigned threads,
                 bool sources) {
  b2bseg::generate_options o;
  o.people = people;
  o.seed = seed;
  o.threads = threads;
  progress_bar bar("generating");
  auto t0 = std::chrono::steady_clock::now();
  auto progress = [&bar](std::uint64_t done, std::uint64_t total) { bar.update("", done, total); };
  b2bseg::generate_report rep = sources ? b2bseg::generate_sources_dataset(out, o, progress)
                                        : b2bseg::generate_dataset(out, o, progress);
  bar.finish();
  double ms =
      std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
  std::uint64_t rows = 0;
  for (const auto& [name, n] : rep.rows) {
    std::printf("  %-22s %12llu rows\n", name.c_str(), (unsigned long long)n);
    rows += n;
  }
  std::printf("wrote %llu rows (%s) to %s in %.1f s\n", (unsigned long long)rows,
              human_bytes(rep.bytes).c_str(), out.c_str(), ms / 1000);
  return 0;
}

// --- serve ------------------------------------------------------------------------------------
struct serve_args {
  std::string data, segments, listen = "127.0.0.1:8080", state, token_file, as_of;
  double follow_clock = 0;
  std::size_t max_body = std::size_t{64} << 20;
  std::uint64_t snapshot_every = 1000;
  unsigned threads = 0, workers = 32;
  bool lenient = false;
};

/// HOST:PORT (an IPv6 host in brackets) into its parts; a usage error otherwise.
std::pair<std::string, int> parse_listen(const std::string& s) {
  const auto colon = s.rfind(':');
  const std::string port_text = colon == std::string::npos ? "" : s.substr(colon + 1);
  std::string host = colon == std::string::npos ? "" : s.substr(0, colon);
  if (host.size() > 2 && host.front() == '[' && host.back() == ']')
    host = host.substr(1, host.size() - 2);
  if (host.empty() || port_text.empty() || port_text.size() > 5 ||
      port_text.find_first_not_of("0123456789") != std::string::npos ||
      std::stoi(port_text) > 65535)
    throw usage_error("--listen: '" + s +
                      "' is not ADDR:PORT (e.g. 127.0.0.1:8080; port 0 picks a free one)");
  return {host, std::stoi(port_text)};
}

/// The token of --token-file: its text without surrounding white space; never empty.
std::string read_token(const std::string& path) {
  std::string t = read_text_file(path);
  const auto first = t.find_first_not_of(" \t\r\n");
  if (first == std::string::npos) throw usage_error("--token-file: '" + path + "' holds no token");
  t = t.substr(first, t.find_last_not_of(" \t\r\n") - first + 1);
  if (t.find_first_of(" \t\r\n") != std::string::npos || t.size() > 4096)
    throw usage_error("--token-file: the token must be one word of at most 4096 bytes");
  return t;
}

int run_serve(const serve_args& a) {
  const auto [host, port] = parse_listen(a.listen);
  const std::string token = a.token_file.empty() ? std::string() : read_token(a.token_file);
  if (token.empty() && !b2bseg::is_loopback(host))
    throw usage_error("--listen " + a.listen +
                      " reaches beyond this machine: give --token-file too (refusing to serve "
                      "without a token)");
  // Many connections at once: as many descriptors as the hard limit allows.
  rlimit rl{};
  if (::getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
    rl.rlim_cur = rl.rlim_max;
    ::setrlimit(RLIMIT_NOFILE, &rl);
  }
  // SIGTERM and SIGINT go to one thread (below), whatever thread the kernel picks.
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGTERM);
  sigaddset(&stop_signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);
  std::signal(SIGPIPE, SIG_IGN);

  b2bseg::snapshot_point point{0, parse_as_of(a.as_of)};
  std::unique_ptr<b2bseg::state_dir> state;
  if (!a.state.empty()) state = std::make_unique<b2bseg::state_dir>(a.state);
  std::shared_ptr<const b2bseg::graph> g;
  b2bseg::bound_file f;
  std::uint64_t dropped = 0;  // bytes of a torn last log record, cut off
  const bool resumed = state && state->has_snapshot();
  if (resumed) {
    // The state folder holds the data as the last run left it: --data only named the start.
    f = compile_file(state->snapshot_path(), a.segments);
    g = std::make_shared<const b2bseg::graph>(state->open(point));
    if (!a.as_of.empty())
      std::fprintf(stderr, "serve: --as-of ignored: resuming from %s, now %s\n", a.state.c_str(),
                   b2bseg::format_timestamp(point.now).c_str());
  } else {
    if (state && !state->recover(0, dropped).empty())
      throw b2bseg::data_error(state->log_path(), 0, 0,
                               "a change log without the snapshot it follows; restore "
                               "snapshot.b2bs or start from an empty folder");
    b2bseg::schema schema;
    f = compile_file(a.data, a.segments, &schema);
    b2bseg::load_report rep;
    g = std::make_shared<const b2bseg::graph>(load_graph(a.data, a.lenient, a.threads, rep));
    check_same_schema(schema, *g, a.data);
    // The service writes the start as the first snapshot: a restart never depends on --data or
    // the clock.
  }
  std::vector<b2bseg::logged_batch> replay;
  if (resumed) replay = state->recover(point.seq, dropped);  // fresh: the log was read above
  if (dropped)
    std::fprintf(stderr,
                 "serve: %s: cut off a torn last record (%llu bytes; it was never answered)\n",
                 state->log_path().c_str(), (unsigned long long)dropped);
  b2bseg::serve_options so;
  so.as_of = point.now;
  so.first_seq = point.seq;
  so.threads = a.threads;
  so.token = token;
  so.snapshot_every = a.snapshot_every;
  if (!resumed) {
    so.dataset = a.data;  // the source rows of entities with sources, unless a snapshot has them
    so.load_lenient = a.lenient;
  }
  b2bseg::service svc(g, std::make_shared<const b2bseg::bound_file>(std::move(f)), so,
                      std::move(state));
  g.reset();  // the engines hold what they need
  svc.log_error = [](const std::string& m) {
    std::string line = "serve: error: " + b2bseg::detail::escape_controls(m) + "\n";
    std::fwrite(line.data(), 1, line.size(), stderr);
  };
  for (const auto& b : replay) svc.replay(b);
  if (!replay.empty()) std::fprintf(stderr, "serve: replayed %zu logged batches\n", replay.size());
  svc.open_log();

  b2bseg::http_options ho;
  ho.host = host;
  ho.port = port;
  ho.max_body = a.max_body;
  ho.workers = a.workers;
  b2bseg::http_server server(svc, ho);
  const int bound = server.bind();
  std::fprintf(stderr, "serve: listening on http://%s:%d (seq %llu, %zu segments)\n",
               host.find(':') != std::string::npos ? ("[" + host + "]").c_str() : host.c_str(),
               bound, (unsigned long long)svc.seq(), svc.segments().segments.size());

  std::mutex clock_mu;
  std::condition_variable clock_cv;
  bool done = false;
  std::thread clock;
  if (a.follow_clock > 0)
    clock = std::thread([&] {
      const auto every = std::chrono::duration<double>(a.follow_clock);
      std::unique_lock<std::mutex> lk(clock_mu);
      while (!clock_cv.wait_for(lk, every, [&] { return done; })) {
        lk.unlock();
        svc.follow_clock();
        lk.lock();
      }
    });
  std::atomic<bool> returned{false};
  std::thread signals([&] {
    int sig = 0;
    sigwait(&stop_signals, &sig);
    // A signal that came before the server started listening: stop it once it does.
    while (!returned.load()) {
      server.stop();
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
  });
  const bool ok = server.run();
  returned = true;
  {
    std::lock_guard<std::mutex> lk(clock_mu);
    done = true;
  }
  clock_cv.notify_all();
  if (clock.joinable()) clock.join();
  pthread_kill(signals.native_handle(), SIGTERM);  // wakes it if no signal came
  signals.join();
  svc.shutdown(true);
  std::fprintf(stderr, "serve: stopped at seq %llu%s\n", (unsigned long long)svc.seq(),
               a.state.empty() ? "" : "; snapshot written");
  return ok ? 0 : 1;
}
}  // namespace

int main(int argc, char** argv) {
  // Loads touch hundreds of MB of fresh memory: with 2 MiB pages they fault 7x less
  // (huge_pages.hpp).
  b2bseg::reexec_with_huge_pages();
#if B2BSEG_MPI
  // Under `mpirun -n N` (N > 1) eval and activate run over every process (SPEC 8); process 0 alone
  // prints, the others keep their standard error for what only they meet.
  b2bseg::dist::mpi_session mpi(&argc, &argv);
  std::unique_ptr<b2bseg::dist::mpi_communicator> world;
  int own_stderr = -1;
  if (b2bseg::dist::mpi_session::world_size() > 1) {
    world = std::make_unique<b2bseg::dist::mpi_communicator>();
    if (world->rank() != 0) {
      own_stderr = ::dup(2);
      if (!std::freopen("/dev/null", "w", stdout) || !std::freopen("/dev/null", "w", stderr))
        return 1;
    }
  }
  // An error one process met alone would leave the others waiting: it ends them all.
  auto alone = [&](const char* what) {
    if (!world) return;
    const std::string line =
        "b2bseg: process " + std::to_string(world->rank()) + ": error: " + what + "\n";
    if (own_stderr >= 0 && ::write(own_stderr, line.data(), line.size()) < 0) {
    }
    b2bseg::dist::mpi_session::abort(1);
  };
#else
  auto alone = [](const char*) {};
  void* world = nullptr;
#endif
  CLI::App app{
      "b2bseg: evaluate B2B audience segments over people, accounts, opportunities and events, in "
      "milliseconds.\n\nA dataset is a folder with schema.json and one CSV per entity (or a "
      "snapshot "
      "file of one,\nwritten by `b2bseg snapshot`); a segments file holds\n"
      "definitions such as\n\n"
      "  segment target_accounts on account where industry = \"Software\" and employees >= 1000\n\n"
      "Start with:  b2bseg generate --people 10000 --out /tmp/demo\n"
      "             b2bseg eval --data /tmp/demo --segments datasets/demo.seg --out /tmp/results\n",
      "b2bseg"};
  app.require_subcommand(1);
  app.set_version_flag("--version", "b2bseg 0.1.0");

  std::string data, segments, out, as_of, name;
  bool lenient = false;
  unsigned threads = 0;

  auto* gen = app.add_subcommand(
      "generate", "Write a synthetic B2B dataset (schema.json + CSVs); same seed, same bytes");
  std::uint64_t people = 10000, seed = 42;
  gen->add_option("--people", people,
                  "Number of people (accounts, opportunities, events scale with it)")
      ->required()
      ->check(CLI::Validator(
          [](std::string& v) -> std::string {
            if (v.empty() || v.find_first_not_of("0123456789") != std::string::npos ||
                v.find_first_not_of('0') == std::string::npos)
              return "expected a whole number of at least 1, found '" + v + "'";
            return "";
          },
          "N>=1"));
  bool gen_sources = false;
  gen->add_flag("--sources", gen_sources,
                "Write the same world as raw exports of a Salesforce org and two Marketo "
                "instances (their own column names, overlapping people), with a schema.json that "
                "merges them by identity (SPEC 2.3)");
  gen->add_option("--seed", seed, "Random seed")->capture_default_str();
  gen->add_option("--out", out, "Folder to write into (created if missing)")->required();
  gen->add_option("--threads", threads,
                  "Worker threads (0 = all cores); the output does not depend on it")
      ->check(CLI::Range(0u, b2bseg::max_threads));

  eval_args ea;
  auto* ev = app.add_subcommand("eval",
                                "Load a dataset, compile a segments file, evaluate, write NAME.csv "
                                "per segment + summary.json");
  ev->add_option("--data", ea.data, "Dataset folder (schema.json + CSVs) or snapshot file")
      ->required()
      ->check(CLI::ExistingPath);
  ev->add_option("--segments", ea.segments, "Segments file")->required();
  ev->add_option("--out", ea.out, "Output folder (created if missing)")->required();
  ev->add_option("--as-of", ea.as_of,
                 "The instant 'now' stands for, ISO 8601 (default: the current time)");
  ev->add_option("--segment", ea.only, "Evaluate only this segment (and what it uses); repeatable");
  ev->add_option("--threads", ea.threads, "Worker threads (0 = all cores)")
      ->check(CLI::Range(0u, b2bseg::max_threads));
  ev->add_flag("--lenient", ea.lenient,
               "Turn bad values and dangling links into nulls, drop duplicate keys; report counts");
  ev->add_flag("--quiet", ea.quiet, "Print nothing on success");

  activate_args aa;
  auto* ac = app.add_subcommand(
      "activate",
      "Evaluate, then write each destination's files (LinkedIn, Marketo, cloud storage) with a "
      "manifest, in full or as what changed since the destination's last run");
  ac->add_option("--data", aa.data, "Dataset folder (schema.json + CSVs) or snapshot file")
      ->required()
      ->check(CLI::ExistingPath);
  ac->add_option("--segments", aa.segments, "Segments file")->required();
  ac->add_option("--destinations", aa.destinations,
                 "Destinations file (JSON, SPEC 6), e.g. datasets/demo.destinations.json")
      ->required();
  ac->add_option("--out", aa.out,
                 "Output folder: OUT/DESTINATION/RUN/ per run, OUT/DESTINATION/.state/ for the "
                 "incremental state")
      ->required();
  ac->add_option("--as-of", aa.as_of,
                 "The instant 'now' stands for, ISO 8601 (default: the current time); names "
                 "the run folder");
  ac->add_flag("--full", aa.full,
               "Write every member once, also for incremental destinations (status realized)");
  ac->add_option("--threads", aa.threads, "Worker threads (0 = all cores)")
      ->check(CLI::Range(0u, b2bseg::max_threads));
  ac->add_flag("--lenient", aa.lenient, "Lenient load (see eval --help)");
  ac->add_flag("--quiet", aa.quiet, "Print nothing on success");

  stream_args sa;
  auto* sm = app.add_subcommand(
      "stream",
      "Evaluate, then apply a change feed (NDJSON, SPEC 2.4) batch by batch and write who entered "
      "and who left each segment, as NDJSON");
  sm->add_option("--data", sa.data, "Dataset folder (schema.json + CSVs) or snapshot file")
      ->required()
      ->check(CLI::ExistingPath);
  sm->add_option("--segments", sa.segments, "Segments file")->required();
  sm->add_option("--changes", sa.changes,
                 "The change feed, one JSON object a line (default, or '-': standard input)");
  sm->add_option("--out", sa.out,
                 "Write the membership changes to this file (default: standard output), "
                 "flushed after each batch");
  sm->add_option("--final-out", sa.final_out,
                 "At the end, write the members as eval does (NAME.csv + summary.json) here");
  sm->add_option("--batch-size", sa.batch_size,
                 "A batch ends after this many lines other than commit")
      ->capture_default_str()
      ->check(CLI::Range(std::size_t{1}, std::size_t{100000000}));
  sm->add_option("--max-delay", sa.max_delay,
                 "A batch also ends when the input pauses this many milliseconds")
      ->capture_default_str()
      ->check(CLI::Range(0, 3600000));
  sm->add_option("--as-of", sa.as_of,
                 "The instant 'now' stands for at the start, ISO 8601 (default: the current "
                 "time); tick lines move it");
  sm->add_option("--threads", sa.threads, "Worker threads (0 = all cores)")
      ->check(CLI::Range(0u, b2bseg::max_threads));
  sm->add_flag("--lenient", sa.lenient,
               "Lenient load (see eval --help), and skip and count bad changes instead of "
               "stopping");
  sm->add_flag("--quiet", sa.quiet, "No closing summary on stderr");
  sm->footer(
      "\nA change line (SPEC 2.4):\n"
      "  {\"op\": \"upsert\", \"entity\": \"person\", \"row\": {\"person_id\": \"P1\", "
      "\"seniority\": \"VP\"}}\n"
      "  {\"op\": \"insert\", \"entity\": \"event\", \"row\": {\"person_id\": \"P1\", "
      "\"type\": \"webinar.attended\", \"timestamp\": \"2026-11-21T10:00:00Z\"}}\n"
      "  {\"op\": \"delete\", \"entity\": \"opportunity\", \"key\": \"O12\"}\n"
      "  {\"op\": \"tick\", \"now\": \"2026-11-23T00:00:00Z\"}\n"
      "  {\"op\": \"commit\"}\n"
      "Output, per batch: a line per key that entered or left a segment, then the batch line:\n"
      "  {\"batch\": 1, \"segment\": \"vp_people\", \"key\": \"P1\", \"change\": "
      "\"entered\"}\n"
      "  {\"batch\": 1, \"applied\": 4, \"rejected\": 0, \"entered\": 1, \"exited\": 0, "
      "\"ms\": 1.204}\n"
      "Example:\n"
      "  b2bseg stream --data datasets/demo --segments datasets/demo.seg \\\n"
      "      --changes datasets/demo.changes.ndjson --as-of 2026-11-22T00:00:00Z\n");

  auto* ck = app.add_subcommand(
      "check", "Compile a segments file against a dataset's schema and report every error");
  ck->add_option("--data", data,
                 "Dataset folder (only schema.json is read) or snapshot file (only its schema)")
      ->required()
      ->check(CLI::ExistingPath);
  ck->add_option("--segments", segments, "Segments file")->required();
  ck->add_flag("--lenient", lenient, "Accepted for symmetry; check loads no CSV");

  auto* ex = app.add_subcommand(
      "explain", "Print the plan of one segment as a tree, with set sizes, times and sharing");
  ex->add_option("--data", data, "Dataset folder or snapshot file")
      ->required()
      ->check(CLI::ExistingPath);
  ex->add_option("--segments", segments, "Segments file")->required();
  ex->add_option("--segment", name, "The segment to explain")->required();
  ex->add_option("--as-of", as_of, "The instant 'now' stands for, ISO 8601");
  ex->add_flag("--lenient", lenient, "Lenient load (see eval --help)");

  inspect_args oa;
  auto* ov = app.add_subcommand(
      "overlap", "For segments on one entity: each pair's members in common and Jaccard index");
  ov->add_option("--data", oa.data, "Dataset folder or snapshot file")
      ->required()
      ->check(CLI::ExistingPath);
  ov->add_option("--segments", oa.segments, "Segments file")->required();
  ov->add_option("--segment", oa.only,
                 "A segment to compare (repeat; all must be on one entity). Default: every "
                 "segment on --entity, or every segment when all are on one entity");
  ov->add_option("--entity", oa.entity, "Compare every segment on this entity");
  ov->add_option("--as-of", oa.as_of, "The instant 'now' stands for, ISO 8601 (default: now)");
  ov->add_option("--threads", oa.threads, "Worker threads (0 = all cores)")
      ->check(CLI::Range(0u, b2bseg::max_threads));
  ov->add_flag("--json", oa.json,
               "Print {\"entity\", \"segments\": [{name, count}], \"pairs\": [{a, b, count, "
               "jaccard}]} instead of a table");
  ov->add_flag("--lenient", oa.lenient, "Lenient load (see eval --help)");
  ov->footer(
      "\nExact counts: every pair's intersection is a popcount of the AND of two bitsets, all "
      "pairs in\none parallel pass. Jaccard = both / either (0 when both are empty).\n\n"
      "Example:\n"
      "  b2bseg overlap --data datasets/demo --segments datasets/demo.seg --entity person\n");

  serve_args va;
  auto* sv = app.add_subcommand(
      "serve", "Keep the audiences in memory, apply changes as they arrive, answer over HTTP");
  sv->add_option("--data", va.data,
                 "Dataset folder or snapshot file (with --state: only the first time)")
      ->required()
      ->check(CLI::ExistingPath);
  sv->add_option("--segments", va.segments, "Segments file")->required();
  sv->add_option("--listen", va.listen,
                 "ADDR:PORT to listen on (port 0: a free one, printed at start); beyond "
                 "loopback only with --token-file")
      ->capture_default_str();
  sv->add_option("--state", va.state,
                 "Folder for the change log and snapshots: every batch is on disk before it is "
                 "answered, and a restart resumes from it. Without it nothing outlives the "
                 "process");
  sv->add_option("--token-file", va.token_file,
                 "File holding a bearer token: every request but /v1/health then needs "
                 "'Authorization: Bearer TOKEN'")
      ->check(CLI::ExistingFile);
  sv->add_option("--as-of", va.as_of,
                 "The instant 'now' stands for at the start, ISO 8601 (default: the current "
                 "time); tick changes move it");
  sv->add_option("--follow-clock", va.follow_clock,
                 "Also move 'now' to the current time every this many seconds (a tick batch)")
      ->check(CLI::Range(0.0, 86400.0));
  sv->add_option("--max-body", va.max_body, "Largest request body in bytes (larger: 413)")
      ->capture_default_str()
      ->check(CLI::Range(std::size_t{1}, std::size_t{1} << 32));
  sv->add_option("--snapshot-every", va.snapshot_every,
                 "With --state: write a snapshot (and empty the log) after this many batches; "
                 "0: only at shutdown")
      ->capture_default_str();
  sv->add_option("--workers", va.workers,
                 "Threads for requests that may take long (member lists, the change history, "
                 "why); look-ups are answered by one event loop per core, batches by the writer")
      ->capture_default_str()
      ->check(CLI::Range(1u, 4096u));
  sv->add_option("--threads", va.threads, "Evaluation threads (0 = all cores)")
      ->check(CLI::Range(0u, b2bseg::max_threads));
  sv->add_flag("--lenient", va.lenient, "Lenient load (see eval --help)");
  sv->footer(
      "\nEndpoints (JSON unless said):\n"
      "  GET  /v1/health                          {\"status\": \"ok\", \"seq\": S} (no token "
      "needed)\n"
      "  GET  /v1/segments                        each segment's name, entity and count\n"
      "  GET  /v1/segments/NAME/members           the members, as eval's NAME.csv\n"
      "  GET  /v1/profiles/ENTITY/KEY             the segments KEY is in, and its attributes\n"
      "  GET  /v1/profiles/ENTITY/KEY/why/NAME    the why tree (see why --help)\n"
      "  POST /v1/changes                         a change feed (see stream --help), one batch\n"
      "  GET  /v1/changes?since=S[&limit=L]       membership changes after batch S, NDJSON\n"
      "SIGTERM or SIGINT: finish the batch in hand, write the snapshot (--state), exit 0.\n"
      "Example session:\n"
      "  b2bseg serve --data datasets/demo --segments datasets/demo.seg \\\n"
      "      --state /tmp/b2bseg-state --as-of 2026-11-22T00:00:00Z &\n"
      "  curl -s localhost:8080/v1/health\n"
      "  curl -s localhost:8080/v1/profiles/person/P000001\n"
      "  curl -s --data-binary @datasets/demo.changes.ndjson localhost:8080/v1/changes\n"
      "  curl -s 'localhost:8080/v1/changes?since=0'\n"
      "  kill %1\n");

  inspect_args wa;
  auto* wh = app.add_subcommand(
      "why",
      "Why one entity is, or is not, in a segment: its condition as a tree, each node "
      "true or false, with the counts and values that decided it");
  wh->add_option("--data", wa.data, "Dataset folder or snapshot file")
      ->required()
      ->check(CLI::ExistingPath);
  wh->add_option("--segments", wa.segments, "Segments file")->required();
  wh->add_option("--segment", wa.only, "The segment")->required()->expected(1);
  wh->add_option("--key", wa.key, "The key of the entity (of the segment's 'on' entity)")
      ->required();
  wh->add_option("--as-of", wa.as_of, "The instant 'now' stands for, ISO 8601 (default: now)");
  wh->add_flag("--json", wa.json,
               "Print {\"segment\", \"key\", \"member\", \"tree\": NODE}, a NODE being "
               "{\"text\", \"value\", \"children\"} with \"count\" and \"actual\" where known");
  wh->add_flag("--lenient", wa.lenient, "Lenient load (see eval --help)");
  wh->footer(
      "\nA node inside a relation (the condition of events.any(...)) is about the related "
      "entities:\ntrue when at least one satisfies it, with `count` saying how many do.\n\n"
      "Example:\n"
      "  b2bseg why --data datasets/demo --segments datasets/demo.seg \\\n"
      "      --segment open_deal_decision_makers --key P0000002\n");

  auto* st = app.add_subcommand(
      "stats", "Entity counts, nulls and distinct values per attribute, link coverage, memory");
  st->add_option("--data", data, "Dataset folder or snapshot file")
      ->required()
      ->check(CLI::ExistingPath);
  st->add_flag("--lenient", lenient, "Lenient load (see eval --help)");

  auto* sn = app.add_subcommand(
      "snapshot",
      "Load a dataset once and write it, indexed, to one file that every command's --data opens "
      "in milliseconds (SPEC 2.5)");
  bool snap_quiet = false;
  sn->add_option("--data", data, "Dataset folder (schema.json + CSVs) or snapshot file")
      ->required()
      ->check(CLI::ExistingPath);
  sn->add_option("--out", out,
                 "The snapshot file to write (written beside it, then renamed into place)")
      ->required();
  sn->add_option("--threads", threads, "Worker threads (0 = all cores)")
      ->check(CLI::Range(0u, b2bseg::max_threads));
  sn->add_flag("--lenient", lenient,
               "Lenient load (see eval --help); the snapshot holds the result");
  sn->add_flag("--quiet", snap_quiet, "Print nothing on success");
  sn->footer(
      "\nExample:\n"
      "  b2bseg snapshot --data datasets/demo --out /tmp/demo.b2bs\n"
      "  b2bseg eval --data /tmp/demo.b2bs --segments datasets/demo.seg --out /tmp/results\n");

  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForVersion& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    app.exit(e);
    return 2;
  }

  try {
    int rc = 0;
    if (*gen) rc = run_generate(people, seed, out, threads, gen_sources);
#if B2BSEG_MPI
    if (world && !*ev && !*ac)
      throw usage_error(
          "only eval and activate run over several processes (mpirun -n N); run " +
          std::string(app.get_subcommands().empty() ? "it" : app.get_subcommands()[0]->get_name()) +
          " as one process");
    if (*ev) rc = world ? run_eval_dist(ea, *world) : run_eval(ea);
    if (*ac) rc = world ? run_activate_dist(aa, *world) : run_activate(aa);
#else
    (void)world;
    if (*ev) rc = run_eval(ea);
    if (*ac) rc = run_activate(aa);
#endif
    if (*sm) rc = run_stream(sa);
    if (*ck) {
      b2bseg::bound_file f = compile_file(data, segments);
      std::printf("%s: %zu segments, no errors\n", segments.c_str(), f.segments.size());
    }
    if (*ex) rc = run_explain(data, segments, name, as_of, lenient);
    if (*st) rc = run_stats(data, lenient);
    if (*ov) rc = run_overlap(oa);
    if (*wh) rc = run_why(wa);
    if (*sn) rc = run_snapshot(data, out, lenient, threads, snap_quiet);
    if (*sv) rc = run_serve(va);
    // What went to standard output must have arrived (a full disk, a closed pipe).
    if (std::fflush(stdout) != 0 || std::ferror(stdout)) {
      std::fprintf(stderr, "error: cannot write to standard output: %s\n", std::strerror(errno));
      return 1;
    }
    return rc;
  } catch (const b2bseg::compile_error& e) {
    std::fputs(e.what(), stderr);
    std::fprintf(stderr, "%zu error%s; nothing evaluated\n", e.diagnostics().size(),
                 e.diagnostics().size() == 1 ? "" : "s");
    return 2;
  } catch (const usage_error& e) {
    std::fprintf(stderr, "error: %s\n", e.what());
    return 2;
  } catch (const b2bseg::dist::agreed_error& e) {
    std::fprintf(stderr, "error: %s\n", e.what());
    return 1;
  } catch (const b2bseg::data_error& e) {
    alone(e.what());
    std::fprintf(stderr, "error: %s\n", e.what());
    return 1;
  } catch (const std::bad_alloc&) {
    alone("out of memory");
    std::fprintf(stderr, "error: out of memory\n");
    return 1;
  } catch (const std::exception& e) {
    alone(e.what());
    std::fprintf(stderr, "error: %s\n", e.what());
    return 1;
  }
  return 0;
}
