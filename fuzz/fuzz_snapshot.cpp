// libFuzzer target: snapshot files (SPEC 2.5). The first byte picks what the rest is:
//   0: a whole file, as is (foreign bytes, magic, header, directory);
//   1: byte edits (4-byte position, 1-byte value) of a valid snapshot, checksums then recomputed
//      (`reseal`), so the edits reach the structural checks behind the checksums;
//   2: the same edits without resealing (the checksums must catch them).
// Every outcome is a graph or a data_error naming the file; a graph that opens is validated, and
// one that validates is evaluated.
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>

#include "b2bseg/b2bseg.hpp"

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

const char* segments_text() {
  return "segment s1 on account where name = \"Acme\" and n >= 5\n"
         "segment s2 on person where account.tags contains \"ai\" or events.count() >= 2\n"
         "segment s3 on account where subs.count() >= 1 and not ok\n";
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  std::string file;
  const std::uint8_t mode = data[0] % 3;
  if (mode == 0) {
    file.assign(reinterpret_cast<const char*>(data + 1), size - 1);
  } else {
    file = base();
    for (std::size_t i = 1; i + 5 <= size; i += 5) {
      std::uint32_t pos;
      std::memcpy(&pos, data + i, 4);
      file[pos % file.size()] = static_cast<char>(data[i + 4]);
    }
    if (mode == 1) b2bseg::detail::snapshot::reseal(file);
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
