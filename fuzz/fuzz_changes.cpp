// libFuzzer target: arbitrary bytes read as a change feed (SPEC 2.4), line by line, against two
// small fixed datasets: a plain graph, and one whose people come from two sources (SPEC 2.3)
// with events linking to them by email. Every line either parses into a change or into an error
// naming its line; every change either applies or is refused with a message and leaves the rows
// as they were; whatever was accepted still builds into a graph (the checks miss nothing the
// loader refuses), and rolling everything back gives the original rows again.
#include <simdjson.h>

#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <string_view>
#include <variant>

#include "b2bseg/live/feed.hpp"
#include "b2bseg/live/rows.hpp"
#include "b2bseg/load/dataset.hpp"
#include "small_graph.hpp"

namespace {

const b2bseg::graph& base() {
  static const b2bseg::graph g = fuzz_support::small_graph();
  return g;
}

/// The dataset with sources, written once into a folder of this process.
const std::string& sources_dir() {
  static const std::string dir = [] {
    namespace fs = std::filesystem;
    const fs::path d = fs::temp_directory_path() / ("fuzz_changes." + std::to_string(getpid()));
    fs::create_directories(d);
    auto write = [&](const char* name, const char* text) {
      std::ofstream(d / name, std::ios::binary) << text;
    };
    write("schema.json", R"({"entities": {
      "account": {"file": "account.csv", "key": "id", "attributes": {"name": "string"}},
      "person": {"key": "person_id",
        "identities": {"sfdc_id": "exact", "email": "email"},
        "attributes": {"name": "string", "score": "int"},
        "links": {"account": {"to": "account", "reverse": "people"}},
        "max_rows_per_profile": 3,
        "sources": [
          {"name": "sf", "file": "sf.csv", "identities": {"sfdc_id": "Id", "email": "Email"},
           "attributes": {"name": "Name", "score": "Score"}, "links": {"account": {"column": "Acct"}},
           "updated_at": "At"},
          {"name": "mk", "file": "mk.csv", "identities": {"email": "email", "sfdc_id": "sfdcId"},
           "attributes": {"score": "score"}}]},
      "event": {"file": "event.csv", "attributes": {"type": "string"},
        "links": {"person": {"column": "email", "identity": "email", "to": "person",
                             "reverse": "events"}}}}})");
    write("account.csv", "id,name\nA1,Acme\nA2,Beta\n");
    write("sf.csv",
          "Id,Email,Name,Score,Acct,At\nS1,ana@x.io,Ana,5,A1,2026-01-01\nS2,bo@x.io,Bo,,A2,\n");
    write("mk.csv", "email,sfdcId,score\nANA@x.io,,7\ncy@x.io,S2,3\ndee@x.io,,\n");
    write("event.csv", "email,type\nana@x.io,web\ncy@x.io,mail\ndee@x.io,web\n");
    return d.string();
  }();
  return dir;
}

const b2bseg::graph& sources_base() {
  static const b2bseg::graph g = b2bseg::load_dataset(sources_dir());
  return g;
}

std::string dump(const b2bseg::live_rows& rows) {
  b2bseg::graph g = rows.build();
  std::string out;
  for (b2bseg::entity_id e = 0; e < g.entity_count(); ++e) out += std::to_string(g.rows(e)) + ";";
  return out;
}

/// Feeds every line of `text` to `rows` and checks the promises above.
void feed(b2bseg::live_rows& rows, std::string_view text) {
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
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  b2bseg::live_rows plain(base());
  feed(plain, text);
  b2bseg::live_rows with_sources(sources_base(), sources_dir());
  feed(with_sources, text);
  return 0;
}
