// libFuzzer target: arbitrary bytes read as a change feed (SPEC 2.4), line by line, against a
// small fixed graph. Every line either parses into a change or into an error naming its line;
// every change either applies or is refused with a message and leaves the rows as they were;
// whatever was accepted still builds into a graph (the checks miss nothing the loader refuses),
// and rolling everything back gives the original rows again.
#include <simdjson.h>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>
#include <variant>

#include "b2bseg/live/feed.hpp"
#include "b2bseg/live/rows.hpp"
#include "small_graph.hpp"

namespace {

const b2bseg::graph& base() {
  static const b2bseg::graph g = fuzz_support::small_graph();
  return g;
}

std::string dump(const b2bseg::live_rows& rows) {
  b2bseg::graph g = rows.build();
  std::string out;
  for (b2bseg::entity_id e = 0; e < g.entity_count(); ++e) out += std::to_string(g.rows(e)) + ";";
  return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  b2bseg::live_rows rows(base());
  const std::string before = dump(rows);
  b2bseg::change_parser parser(rows.schema());
  b2bseg::undo_log undo;
  std::string line;
  std::size_t no = 0;
  for (std::size_t b = 0; b <= text.size();) {
    std::size_t e = text.find('\n', b);
    if (e == std::string_view::npos) e = text.size();
    line.assign(text.substr(b, e - b));
    b = e + 1;
    auto parsed = parser.parse(line, ++no);
    if (auto* err = std::get_if<b2bseg::change_error>(&parsed)) {
      if (err->line != no || err->message.empty()) std::abort();
      continue;
    }
    const auto& c = std::get<b2bseg::change>(parsed);
    const std::size_t undo_before = undo.entries.size();
    const std::string msg = rows.apply(c, undo);
    if (!msg.empty() && undo.entries.size() != undo_before) std::abort();  // refused: untouched
  }
  (void)dump(rows);  // throws (a crash here) when an accepted change broke the rows
  rows.rollback(undo);
  if (dump(rows) != before) std::abort();
  return 0;
}
