// libFuzzer target: arbitrary rows of two sources of one resolved entity (SPEC 2.3) and of a plain
// entity linking into it by namespace, loaded strict and lenient.
//
// The input is split at 0xFF bytes into the bodies of three CSV files whose headers are fixed
// (so that the fuzzer spends its time on rows): a Salesforce-like source, a Marketo-like source
// and activities. The first byte picks the merge policy and max_rows_per_profile. Besides crashes
// (with sanitizers), it checks that the result does not depend on how files are split into
// chunks, that a loaded graph validates, and that messages carry no control byte.
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <string_view>
#include <vector>

#include "b2bseg/b2bseg.hpp"
#include "small_graph.hpp"

namespace {

namespace fs = std::filesystem;

void write(const fs::path& p, const std::string& text) {
  std::ofstream f(p, std::ios::binary | std::ios::trunc);
  f << text;
}

std::string dump(const b2bseg::graph& g) {
  std::string out;
  for (b2bseg::entity_id e = 0; e < g.entity_count(); ++e) {
    const auto& def = g.schema().entities[e];
    for (b2bseg::row_id r = 0; r < g.rows(e); ++r) {
      out += def.name + " " + std::string(def.key ? g.key(e, r) : "") + ":";
      for (std::uint32_t a = 0; a < def.attributes.size(); ++a) {
        const b2bseg::column& c = g.attribute(e, a);
        out += c.is_null(r)                             ? "|null"
               : c.type() == b2bseg::value_type::string ? "|" + std::string(c.string_at(r))
                                                        : "|" + std::to_string(c.ints()[r]);
      }
      for (std::uint32_t l = 0; l < def.links.size(); ++l) {
        const b2bseg::row_id p = g.link(e, l).parent(r);
        out += p == b2bseg::no_row ? "->null" : "->" + std::string(g.key(def.links[l].target, p));
      }
      out += "\n";
    }
  }
  return out;
}

struct outcome {
  std::string dump;
  std::string error;
};

outcome load(const fs::path& dir, bool lenient, unsigned chunks) {
  outcome o;
  try {
    b2bseg::load_options opts;
    opts.lenient = lenient;
    opts.chunks = chunks;
    const b2bseg::graph g = b2bseg::load_dataset(dir.string(), opts);
    g.validate();
    o.dump = dump(g);
  } catch (const b2bseg::data_error& e) {
    o.error = e.what();
    for (const char c : std::string_view(o.error))
      if (static_cast<unsigned char>(c) < 0x20) std::abort();
  }
  return o;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  static const fs::path dir =
      fs::temp_directory_path() / ("fuzz_sources." + std::to_string(getpid()));
  fs::create_directories(dir);
  const bool latest = data[0] & 1;
  const unsigned max_rows = 1 + (data[0] >> 1) % 6;
  std::vector<std::string> parts(3);
  std::size_t k = 0;
  for (std::size_t i = 1; i < size; ++i) {
    if (data[i] == 0xFF) {
      if (++k == parts.size()) break;
      continue;
    }
    parts[k] += static_cast<char>(data[i]);
  }
  write(dir / "schema.json",
        fuzz_support::two_source_schema(latest ? "latest" : "priority", max_rows));
  write(dir / "account.csv", "Id,name\nA1,Acme\nA2,Globex\n");
  write(dir / "a.csv", "id,email,name,upd,acct\n" + parts[0]);
  write(dir / "b.csv", "lead,mail,sfdc,score,ts,acct\n" + parts[1]);
  write(dir / "e.csv", "lead,type\n" + parts[2]);
  for (const bool lenient : {false, true}) {
    const outcome one = load(dir, lenient, 1);
    const outcome many = load(dir, lenient, 3);
    if (one.dump != many.dump || one.error != many.error) std::abort();
  }
  return 0;
}
