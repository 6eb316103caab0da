// `b2bseg stream` as a library function: a change feed in, membership changes out (SPEC 4).
#pragma once

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <string>
#include <variant>
#include <vector>

#include "b2bseg/common/error.hpp"
#include "b2bseg/detail/json.hpp"
#include "b2bseg/live/engine.hpp"
#include "b2bseg/live/feed.hpp"

namespace b2bseg {

/// How `run_stream` batches and treats bad changes.
struct stream_options {
  std::string feed_name = "<stdin>";  ///< the feed as errors name it
  std::size_t batch_size = 1000;      ///< a batch ends after this many lines other than commit
  int max_delay_ms = 50;              ///< ... or when the input pauses this long
  bool lenient = false;               ///< skip and count bad changes (else stop at the first)
  std::size_t max_line = std::size_t{64} << 20;  ///< longer lines are bad changes
};

/// Totals of a stream run.
struct stream_totals {
  std::uint64_t batches = 0, applied = 0, rejected = 0, entered = 0, exited = 0;
  bool failed = false;  ///< stopped at a bad change (strict mode)
};

namespace detail::live {

/// Appends the NDJSON lines of one batch (SPEC 4) to `out`, numbered `number` under the name
/// `field` ("batch" for `stream`, "seq" for `serve`).
inline void append_batch_lines(std::string& out, const bound_file& f, const batch_result& r,
                               std::size_t rejected, std::uint64_t number,
                               std::string_view field = "batch") {
  const std::string b = std::to_string(number);
  const std::string lead = std::string(1, '{').append("\"").append(field).append("\": ");
  for (const auto& c : r.changes) {
    out += lead + b + ", \"segment\": ";
    append_json_string(out, f.segments[c.segment].name);
    out += ", \"key\": ";
    append_json_string(out, c.key);
    out += c.entered ? ", \"change\": \"entered\"}\n" : ", \"change\": \"exited\"}\n";
  }
  char ms[32];
  std::snprintf(ms, sizeof ms, "%.3f", r.ms);
  out += lead + b + ", \"applied\": " + std::to_string(r.applied) +
         ", \"rejected\": " + std::to_string(rejected) +
         ", \"entered\": " + std::to_string(r.entered) +
         ", \"exited\": " + std::to_string(r.exited) + ", \"ms\": " + ms + "}\n";
}

}  // namespace detail::live

/// Reads the change feed from descriptor `fd` line by line, applies it to `engine` batch by batch
/// (a batch ends at a `commit` line, after `o.batch_size` other lines, rejected ones included,
/// when the input pauses for `o.max_delay_ms`, and at the end of the input), and writes each
/// batch's membership changes and its batch line to `out`, flushed after each batch. Bad changes
/// go to `err` as `FEED:LINE: error: ...`: in strict mode the run stops there, having written
/// every batch before the failed one and applied nothing of it (`failed` is set); with
/// `o.lenient` (which must match the engine's) they are skipped and counted. Throws data_error
/// when the feed cannot be read or `out` cannot be written.
inline stream_totals run_stream(live_engine& engine, int fd, std::FILE* out, std::FILE* err,
                                const stream_options& o) {
  stream_totals totals;
  feed_reader reader(fd, o.max_line);
  change_parser parser(engine.schema());
  std::vector<change> batch;
  std::size_t lines = 0, parse_rejected = 0;
  std::string text;

  auto report = [&](const change_error& e) {
    std::fprintf(err, "%s\n", e.render(o.feed_name).c_str());
  };
  // Applies and writes the batch collected; false when it failed (strict mode).
  auto flush = [&]() -> bool {
    if (lines == 0) return true;
    batch_result r = engine.apply(batch);
    for (const auto& e : r.errors) report(e);
    if (r.failed()) return false;
    const std::size_t rejected = parse_rejected + r.rejected;
    text.clear();
    detail::live::append_batch_lines(text, engine.segments(), r, rejected, r.batch);
    if (std::fwrite(text.data(), 1, text.size(), out) != text.size() || std::fflush(out) != 0)
      throw data_error(std::string("cannot write the membership changes: ") + std::strerror(errno));
    ++totals.batches;
    totals.applied += r.applied;
    totals.rejected += rejected;
    totals.entered += r.entered;
    totals.exited += r.exited;
    batch.clear();
    lines = parse_rejected = 0;
    return true;
  };
  auto reject = [&](change_error e) -> bool {
    if (!o.lenient) {
      // Strict: the batch fails here; name its first bad line, which may be an earlier one
      // that only the data could tell was bad.
      auto earlier = engine.check(batch);
      report(earlier ? *earlier : e);
      return false;
    }
    report(e);
    ++parse_rejected;
    ++lines;
    return true;
  };

  for (;;) {
    std::string_view line;
    std::size_t line_no = 0;
    const auto st = reader.next(line, line_no, lines ? o.max_delay_ms : -1, o.feed_name);
    bool ok = true;
    if (st == feed_reader::status::eof) {
      totals.failed = !flush();
      return totals;
    }
    if (st == feed_reader::status::timeout) {
      ok = flush();
    } else if (st == feed_reader::status::too_long) {
      ok = reject({line_no, "line longer than " + std::to_string(o.max_line) + " bytes"});
    } else {
      auto parsed = parser.parse(line, line_no);
      if (auto* e = std::get_if<change_error>(&parsed)) {
        ok = reject(std::move(*e));
      } else {
        change& c = std::get<change>(parsed);
        if (c.op == change_op::commit) {
          ok = flush();
        } else {
          batch.push_back(std::move(c));
          ++lines;
        }
      }
    }
    if (ok && lines >= o.batch_size) ok = flush();
    if (!ok) {
      totals.failed = true;
      return totals;
    }
  }
}

}  // namespace b2bseg
