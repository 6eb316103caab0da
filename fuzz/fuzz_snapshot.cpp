// libFuzzer target: snapshot files (SPEC 2.5). The first byte picks what the rest is:
//   0: a whole file, as is (foreign bytes, magic, header, directory);
//   1: byte edits (4-byte position, 1-byte value) of a valid snapshot, checksums then recomputed
//      (`reseal`), so the edits reach the structural checks behind the checksums;
//   2: the same edits without resealing (the checksums must catch them);
//   3: byte edits of a valid snapshot of a dataset with sources, resealed;
//   4: the same with every edit inside its "source rows" section, resealed.
// Every outcome is a graph or a data_error naming the file; a graph that opens is validated, and
// one that validates is evaluated; one that carries source rows has them read back as a live
// dataset does (`live_rows`), which checks them against the graph.
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>

#include "b2bseg/b2bseg.hpp"
#include "b2bseg/live/rows.hpp"
#include "small_graph.hpp"

namespace {

namespace fs = std::filesystem;

const fs::path& work() {
  static const fs::path p =
      fs::temp_directory_path() / ("fuzz_snapshot_" + std::to_string(::getpid()));
  return p;
}

void write(const fs::path& p, const std::string& text) {
  std::ofstream(p, std::ios::binary | std::ios::trunc) << text;
}

std::string slurp(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

/// A small snapshot with every column type, keys, a clustered link, a self link (CSR targets) and
/// a keyless entity.
const std::string& base() {
  static const std::string bytes = [] {
    const fs::path dir = work() / "data";
    fs::create_directories(dir);
    write(dir / "schema.json", R"J({"entities": {
      "account": {"key": "id", "attributes": {"name": "string", "tags": "string[]", "n": "int",
                  "x": "float", "ok": "bool", "at": "timestamp"},
                  "links": {"parent": {"column": "parent", "to": "account", "reverse": "subs"}}},
      "person": {"key": "id", "attributes": {"email": "string"},
                 "links": {"account": {"column": "account", "to": "account", "reverse": "people"}}},
      "event": {"attributes": {"type": "string"},
                "links": {"person": {"column": "person", "to": "person", "reverse": "events"}}}}})J");
    write(dir / "account.csv",
          "id,name,tags,n,x,ok,at,parent\n"
          "a1,Acme,cloud|ai,5,1.5,true,2026-01-01T00:00:00Z,a2\n"
          "a2,Beta,,7,,false,,\n"
          "a3,Acme,ai,,2.5,,2025-06-01T12:00:00Z,a1\n");
    write(dir / "person.csv", "id,email,account\np1,x@a.com,a1\np2,y@b.com,a3\np3,,\n");
    write(dir / "event.csv", "type,person\nweb,p1\nmail,p1\nweb,p2\nweb,\n");
    const b2bseg::graph g = b2bseg::load_dataset(dir.string());
    const fs::path file = work() / "base.b2bs";
    b2bseg::write_snapshot(g, file.string());
    return slurp(file);
  }();
  return bytes;
}

/// A small snapshot of a dataset with sources (two sources merged by email, events linking by
/// namespace), its "source rows" section included; `at` and `size` locate that section's bytes.
struct sources_base {
  std::string bytes;
  std::size_t at = 0, size = 0;
};
const sources_base& with_sources() {
  static const sources_base b = [] {
    const fs::path dir = work() / "sources";
    fs::create_directories(dir);
    write(dir / "schema.json", fuzz_support::two_source_schema("priority", 50));
    write(dir / "account.csv", "Id,name\nA1,Acme\nA2,Globex\n");
    write(dir / "a.csv",
          "id,email,name,upd,acct\n003A,ann@x.com,Ann,2026-01-01T00:00:00Z,A1\n"
          "003B,bo@y.com,Bo,,A2\n");
    write(dir / "b.csv",
          "lead,mail,sfdc,score,ts,acct\nL1,ANN@X.COM,,40,2026-02-01T00:00:00Z,\n"
          "L2,cy@z.com,003B,70,,A1\nL3,dee@w.com,,5,,\n");
    write(dir / "e.csv", "lead,type\nL1,web\nL2,mail\nL3,web\nL1,mail\n");
    const b2bseg::graph g = b2bseg::load_dataset(dir.string());
    const std::string saved = b2bseg::live_rows(g, dir.string()).save_sources(g);
    const fs::path file = work() / "sources.b2bs";
    b2bseg::write_snapshot(g, file.string(), nullptr, &saved);
    sources_base out;
    out.bytes = slurp(file);
    out.at = out.bytes.find(saved);
    out.size = saved.size();
    if (out.at == std::string::npos || saved.empty()) __builtin_trap();
    return out;
  }();
  return b;
}

const char* segments_text() {
  return "segment s1 on account where name = \"Acme\" and n >= 5\n"
         "segment s2 on person where account.tags contains \"ai\" or events.count() >= 2\n"
         "segment s3 on account where subs.count() >= 1 and not ok\n";
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  std::string file;
  const std::uint8_t mode = data[0] % 5;
  if (mode == 0) {
    file.assign(reinterpret_cast<const char*>(data + 1), size - 1);
  } else {
    const sources_base& sb = with_sources();
    file = mode <= 2 ? base() : sb.bytes;
    const std::size_t from = mode == 4 ? sb.at : 0, span = mode == 4 ? sb.size : file.size();
    for (std::size_t i = 1; i + 5 <= size; i += 5) {
      std::uint32_t pos;
      std::memcpy(&pos, data + i, 4);
      file[from + pos % span] = static_cast<char>(data[i + 4]);
    }
    if (mode != 2) b2bseg::detail::snapshot::reseal(file);
  }
  const fs::path path = work() / "input.b2bs";
  write(path, file);
  try {
    b2bseg::graph g = b2bseg::open_snapshot(path.string());
    try {
      g.validate();
    } catch (const std::logic_error&) {
      return 0;  // in bounds but inconsistent: only a crafted file gets here
    }
    if (g.sources()) {
      b2bseg::live_rows rows(g);  // reads and checks the source rows
      return 0;
    }
    const b2bseg::bound_file f = b2bseg::compile_segments(segments_text(), g.schema(), "f.seg");
    b2bseg::evaluate(g, f, b2bseg::eval_options{.as_of = 0, .threads = 1, .segments = {}});
  } catch (const b2bseg::data_error& e) {
    if (std::string(e.what()).find(path.string()) == std::string::npos) {
      std::fprintf(stderr, "error does not name the file: %s\n", e.what());
      __builtin_trap();
    }
  } catch (const b2bseg::compile_error&) {
    // A crafted schema section may rename what the segments use.
  }
  return 0;
}
