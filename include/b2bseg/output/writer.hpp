// Writing results: RFC 4180 key lists per segment, each file written aside and renamed into place.
#pragma once

#include <roaring/roaring.hh>

#include <unistd.h>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

#include "b2bseg/common/error.hpp"
#include "b2bseg/storage/graph.hpp"

namespace b2bseg {

/// Appends `v` to `out` as one CSV field, quoted when it holds a comma, quote, CR or LF.
inline void append_csv_field(std::string& out, std::string_view v) {
  if (v.find_first_of(",\"\r\n") == std::string_view::npos) {
    out.append(v);
    return;
  }
  out += '"';
  for (char c : v) {
    if (c == '"') out += '"';
    out += c;
  }
  out += '"';
}

/// A set of files written aside (hidden temporary names in the same folder) and renamed into
/// place together by `commit()`. If the object is destroyed without `commit()`, the temporaries
/// are removed and nothing at the final paths changes.
class staged_files {
 public:
  staged_files() = default;
  staged_files(const staged_files&) = delete;
  staged_files& operator=(const staged_files&) = delete;
  ~staged_files() {
    for (auto& f : files_) std::remove(f.temp.c_str());
  }

  /// Writes `data` to a temporary beside `path`, flushed to disk. Throws data_error on failure.
  void write(const std::string& path, std::string_view data) {
    namespace fs = std::filesystem;
    fs::path p(path);
    std::string temp =
        (p.parent_path() / ("." + p.filename().string() + ".tmp" + std::to_string(::getpid())))
            .string();
    std::FILE* fp = std::fopen(temp.c_str(), "wb");
    if (!fp) throw data_error(path, 0, 0, std::string("cannot write: ") + std::strerror(errno));
    files_.push_back({temp, path});
    bool ok = std::fwrite(data.data(), 1, data.size(), fp) == data.size();
    ok = (std::fflush(fp) == 0) && ok;
    ok = (::fsync(::fileno(fp)) == 0) && ok;
    ok = (std::fclose(fp) == 0) && ok;
    if (!ok) throw data_error(path, 0, 0, std::string("cannot write: ") + std::strerror(errno));
  }

  /// Renames every temporary to its final path. Throws data_error if a rename fails.
  void commit() {
    for (auto& f : files_) {
      if (std::rename(f.temp.c_str(), f.path.c_str()) != 0)
        throw data_error(f.path, 0, 0,
                         std::string("cannot rename into place: ") + std::strerror(errno));
    }
    files_.clear();
  }

 private:
  struct file {
    std::string temp, path;
  };
  std::vector<file> files_;
};

/// The CSV text of a segment result: a header naming the entity's key column, then one key per
/// member in dense id order. The entity must have a key.
inline std::string members_csv(const graph& g, entity_id e, const Roaring& members) {
  std::string out;
  out.reserve(members.cardinality() * 12 + 32);
  append_csv_field(out, *g.schema().entities[e].key);
  out += '\n';
  for (auto it = members.begin(); it != members.end(); ++it) {
    append_csv_field(out, g.key(e, *it));
    out += '\n';
  }
  return out;
}

}  // namespace b2bseg
