// tool_suite: runs the b2bseg benchmark suite (bench/suite/b2bseg_suite.seg) over one dataset.
//
//   tool_suite --data DIR|SNAPSHOT --segments FILE --as-of TS --threads N --runs R [--json OUT]
//
// Loads the dataset once (timed, with N threads; a snapshot file, written by `b2bseg snapshot`,
// is opened instead, as every command's --data does), compiles the segments file, then
//   1. evaluates each segment alone (the segment plus the segments it references), R times;
//   2. evaluates the whole file together (one shared plan), R times;
// and prints, per segment, the median time and the member count; the whole-file median; the sum
// of the separate medians; profile evaluations per second (people x segments / whole-file
// median); the peak RSS. Every run of every segment must give the same members as the first
// whole-file run, or the tool fails (exit 1) naming the segment and the first differing key.
// With --json, writes the times and every segment's member keys (dense-id order) to OUT, for
// bench/duckdb/race.mjs to compare with DuckDB.
#include <b2bseg/b2bseg.hpp>

#include <tbb/global_control.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iostream>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

namespace {

struct args {
  std::string data, segments, as_of = "2026-11-22T00:00:00Z", json;
  unsigned threads = 2;
  unsigned runs = 5;
};

[[noreturn]] void usage(const std::string& why) {
  if (!why.empty()) std::fprintf(stderr, "tool_suite: %s\n", why.c_str());
  std::fprintf(stderr,
               "usage: tool_suite --data DIR|SNAPSHOT --segments FILE [--as-of TS] [--threads N]"
               " [--runs R] [--json OUT]\n"
               "  --data     a dataset folder (CSV) or a snapshot file (b2bseg snapshot)\n"
               "  --as-of    the instant 'now' stands for (default 2026-11-22T00:00:00Z)\n"
               "  --threads  worker threads for load and evaluation (default 2)\n"
               "  --runs     timed runs per measurement; the median is reported (default 5)\n"
               "  --json     write times and member keys of every segment to OUT\n");
  std::exit(why.empty() ? 0 : 2);
}

args parse_args(int argc, char** argv) {
  args a;
  for (int i = 1; i < argc; ++i) {
    std::string k = argv[i];
    if (k == "-h" || k == "--help") usage("");
    if (i + 1 >= argc) usage("missing value after " + k);
    std::string v = argv[++i];
    auto number = [&](const std::string& s) {
      char* end = nullptr;
      unsigned long n = std::strtoul(s.c_str(), &end, 10);
      if (s.empty() || *end || n == 0 || n > 100000)
        usage(k + ": expected a positive number, got '" + s + "'");
      return static_cast<unsigned>(n);
    };
    if (k == "--data")
      a.data = v;
    else if (k == "--segments")
      a.segments = v;
    else if (k == "--as-of")
      a.as_of = v;
    else if (k == "--threads")
      a.threads = number(v);
    else if (k == "--runs")
      a.runs = number(v);
    else if (k == "--json")
      a.json = v;
    else
      usage("unknown option " + k);
  }
  if (a.data.empty() || a.segments.empty()) usage("--data and --segments are required");
  return a;
}

double ms_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  const std::size_t n = v.size();
  return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

/// Peak resident set size in KiB (VmHWM), or 0 when /proc is not there.
long peak_rss_kib() {
  return static_cast<long>(b2bseg::peak_rss_bytes() / 1024);
}

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in)
    throw b2bseg::data_error(path, 0, 0, std::string("cannot open: ") + std::strerror(errno));
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

void json_string(std::string& out, std::string_view s) {
  out += '"';
  for (unsigned char c : s) {
    if (c == '"' || c == '\\') {
      out += '\\';
      out += static_cast<char>(c);
    } else if (c < 0x20) {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\u%04x", c);
      out += buf;
    } else {
      out += static_cast<char>(c);
    }
  }
  out += '"';
}

std::string fmt(double v, const char* f = "%.3f") {
  char buf[64];
  std::snprintf(buf, sizeof buf, f, v);
  return buf;
}

/// Fails loudly when two member sets differ: names the segment, the runs and the first keys
/// that are in one and not the other.
void check_same(const b2bseg::graph& g, const b2bseg::segment_result& want, const Roaring& got,
                const std::string& what) {
  if (want.members == got) return;
  Roaring only_want = want.members - got, only_got = got - want.members;
  std::fprintf(stderr,
               "tool_suite: MISMATCH in segment %s: whole-file run has %llu members, %s has %llu\n",
               want.name.c_str(), (unsigned long long)want.members.cardinality(), what.c_str(),
               (unsigned long long)got.cardinality());
  auto show = [&](const Roaring& r, const char* label) {
    int n = 0;
    for (auto it = r.begin(); it != r.end() && n < 10; ++it, ++n)
      std::fprintf(stderr, "  %s: %.*s\n", label, int(g.key(want.entity, *it).size()),
                   g.key(want.entity, *it).data());
  };
  show(only_want, "only in the whole-file run");
  show(only_got, ("only in " + what).c_str());
  std::exit(1);
}

}  // namespace

int main(int argc, char** argv) {
  b2bseg::reexec_with_huge_pages();  // as the b2bseg command runs
  args a = parse_args(argc, argv);
  try {
    b2bseg::timestamp_us as_of = 0;
    if (!b2bseg::parse_timestamp(a.as_of, as_of))
      usage("--as-of: not an ISO 8601 timestamp: " + a.as_of);

    // Load with N threads, as `b2bseg eval --threads N` does.
    b2bseg::load_report rep;
    b2bseg::graph g;
    {
      tbb::global_control cap(tbb::global_control::max_allowed_parallelism, a.threads);
      g = b2bseg::open_data(a.data, {}, &rep);
    }
    const long rss_after_load = peak_rss_kib();

    auto tc = std::chrono::steady_clock::now();
    const b2bseg::bound_file f =
        b2bseg::compile_segments(read_file(a.segments), g.schema(), a.segments);
    const double compile_ms = ms_since(tc);
    const std::size_t nseg = f.segments.size();

    b2bseg::executor ex(g, a.threads);
    auto timed_run = [&](const std::vector<std::uint32_t>& selected, double& ms) {
      auto t0 = std::chrono::steady_clock::now();
      b2bseg::evaluation ev = ex.run(b2bseg::build_plan(g.schema(), f, as_of, selected), f);
      ms = ms_since(t0);
      return ev;
    };

    // Whole file: one warm-up run (its results are the reference), then R timed runs.
    double ms = 0;
    b2bseg::evaluation ref = timed_run({}, ms);
    std::vector<const b2bseg::segment_result*> by_index(nseg, nullptr);
    for (const auto& s : ref.segments) by_index[f.find(s.name)] = &s;
    const std::size_t plan_nodes = ref.plan.nodes.size(), plan_requested = ref.plan.requested;
    std::vector<double> whole;
    for (unsigned r = 0; r < a.runs; ++r) {
      b2bseg::evaluation ev = timed_run({}, ms);
      whole.push_back(ms);
      for (const auto& s : ev.segments)
        check_same(g, *by_index[f.find(s.name)], s.members,
                   "whole-file run " + std::to_string(r + 1));
    }

    // Each segment alone: one warm-up run, then R timed runs.
    std::vector<double> seg_median(nseg), seg_min(nseg);
    for (std::uint32_t i = 0; i < nseg; ++i) {
      std::vector<double> times;
      for (unsigned r = 0; r <= a.runs; ++r) {
        b2bseg::evaluation ev = timed_run({i}, ms);
        if (r) times.push_back(ms);
        bool found = false;
        for (const auto& s : ev.segments)
          if (s.name == f.segments[i].name) {
            check_same(g, *by_index[i], s.members, "its separate run " + std::to_string(r));
            found = true;
          }
        if (!found) {
          std::fprintf(stderr, "tool_suite: separate run of %s returned no result for it\n",
                       f.segments[i].name.c_str());
          return 1;
        }
      }
      seg_median[i] = median(times);
      seg_min[i] = *std::min_element(times.begin(), times.end());
    }

    const double whole_ms = median(whole);
    double sum_sep = 0;
    for (double m : seg_median) sum_sep += m;
    const b2bseg::entity_id person = g.schema().find_entity("person");
    const std::size_t people = person != b2bseg::no_entity ? g.rows(person) : 0;
    const double evals_per_s =
        whole_ms > 0 ? double(people) * double(nseg) / (whole_ms / 1000.0) : 0;
    const long rss = peak_rss_kib();

    // The table.
    std::size_t w = 7;
    for (const auto& s : f.segments) w = std::max(w, s.name.size());
    std::printf("b2bseg suite: %s, %zu segments, as of %s, %u thread(s), median of %u runs\n",
                a.data.c_str(), nseg, b2bseg::format_timestamp(as_of).c_str(), a.threads, a.runs);
    std::printf(
        "loaded %llu rows (%llu people, %.1f MiB %s) in %.0f ms; compiled in %.2f ms; plan: %zu "
        "nodes for %zu requested\n\n",
        (unsigned long long)rep.total_rows, (unsigned long long)people, rep.total_bytes / 1048576.0,
        b2bseg::names_a_file(a.data) ? "snapshot" : "CSV", rep.load_ms, compile_ms, plan_nodes,
        plan_requested);
    std::printf("%-*s  %-12s %12s %11s %11s\n", int(w), "segment", "entity", "members", "median ms",
                "min ms");
    for (std::uint32_t i = 0; i < nseg; ++i)
      std::printf("%-*s  %-12s %12llu %11.3f %11.3f\n", int(w), f.segments[i].name.c_str(),
                  g.schema().entities[f.segments[i].entity].name.c_str(),
                  (unsigned long long)by_index[i]->members.cardinality(), seg_median[i],
                  seg_min[i]);
    std::printf("\n%-44s %11.3f ms\n", "whole file, evaluated together (median)", whole_ms);
    std::printf("%-44s %11.3f ms\n", "sum of the separate medians", sum_sep);
    std::printf("%-44s %11.3f ms\n", "slowest segment alone (median)",
                *std::max_element(seg_median.begin(), seg_median.end()));
    std::printf("%-44s %11.3g /s\n", "profile evaluations (people x segments / s)", evals_per_s);
    std::printf("%-44s %11.1f MiB (after load: %.1f MiB)\n", "peak RSS (VmHWM)", rss / 1024.0,
                rss_after_load / 1024.0);
    std::printf(
        "check: the whole-file run and %u separate runs of each segment gave identical members\n",
        a.runs + 1);

    if (!a.json.empty()) {
      std::string out = "{\n";
      out += "  \"engine\": \"b2bseg\",\n  \"data\": ";
      json_string(out, a.data);
      out += ",\n  \"as_of\": ";
      json_string(out, b2bseg::format_timestamp(as_of));
      out += ",\n  \"threads\": " + std::to_string(a.threads) +
             ",\n  \"runs\": " + std::to_string(a.runs);
      out += ",\n  \"people\": " + std::to_string(people);
      out += ",\n  \"load_ms\": " + fmt(rep.load_ms) + ",\n  \"compile_ms\": " + fmt(compile_ms);
      out += ",\n  \"whole_ms\": " + fmt(whole_ms) + ",\n  \"sum_separate_ms\": " + fmt(sum_sep);
      out += ",\n  \"evals_per_s\": " + fmt(evals_per_s, "%.0f");
      out += ",\n  \"peak_rss_kib\": " + std::to_string(rss);
      out += ",\n  \"segments\": [";
      for (std::uint32_t i = 0; i < nseg; ++i) {
        const auto& s = *by_index[i];
        out += i ? ",\n    {" : "\n    {";
        out += "\"name\": ";
        json_string(out, s.name);
        out += ", \"entity\": ";
        json_string(out, g.schema().entities[s.entity].name);
        out += ", \"count\": " + std::to_string(s.members.cardinality());
        out += ", \"median_ms\": " + fmt(seg_median[i]) + ", \"min_ms\": " + fmt(seg_min[i]);
        out += ",\n     \"members\": [";
        bool first = true;
        for (auto it = s.members.begin(); it != s.members.end(); ++it) {
          if (!first) out += ',';
          first = false;
          json_string(out, g.key(s.entity, *it));
        }
        out += "]}";
      }
      out += "\n  ]\n}\n";
      std::ofstream o(a.json, std::ios::binary);
      o << out;
      if (!o) {
        std::fprintf(stderr, "tool_suite: cannot write %s\n", a.json.c_str());
        return 1;
      }
      std::printf("wrote %s\n", a.json.c_str());
    }
    return 0;
  } catch (const b2bseg::compile_error& e) {
    std::fprintf(stderr, "%s", e.what());
    return 2;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "tool_suite: %s\n", e.what());
    return 1;
  }
}
