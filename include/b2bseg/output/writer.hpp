// Writing results: RFC 4180 key lists per segment, each file written aside and renamed into place.
#pragma once

#include <roaring/roaring.hh>

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
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
/// O(size): one pass over the bytes (find_first_of calls memchr once per byte).
inline void append_csv_field(std::string& out, std::string_view v) {
  bool plain = true;
  for (char c : v)
    if (c == ',' || c == '"' || c == '\r' || c == '\n') {
      plain = false;
      break;
    }
  if (plain) {
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

namespace detail {

/// Writes `data` to `path` (created or truncated), not flushed to disk. Throws data_error naming
/// `shown` (default: `path`; a staged file names its final path).
inline void write_whole_file(const std::string& path, std::string_view data,
                             const std::string& shown = {}) {
  const std::string& name = shown.empty() ? path : shown;
  std::FILE* fp = std::fopen(path.c_str(), "wb");
  if (!fp) throw data_error(name, 0, 0, std::string("cannot write: ") + std::strerror(errno));
  bool ok = std::fwrite(data.data(), 1, data.size(), fp) == data.size();
  ok = (std::fflush(fp) == 0) && ok;
  const int err = errno;
  ok = (std::fclose(fp) == 0) && ok;
  if (!ok) throw data_error(name, 0, 0, std::string("cannot write: ") + std::strerror(err));
}

/// Flushes to disk the whole filesystem holding folder `dir` (syncfs: one call for any number
/// of files), or, with `whole_filesystem` false, the folder itself (its renames; errors
/// ignored). Throws data_error naming `dir`.
inline void sync_folder(const std::string& dir, bool whole_filesystem) {
  const int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0)
    throw data_error(dir, 0, 0, std::string("cannot open folder: ") + std::strerror(errno));
  const int r = whole_filesystem ? ::syncfs(fd) : ::fsync(fd);
  const int err = errno;
  ::close(fd);
  if (r != 0 && whole_filesystem)
    throw data_error(dir, 0, 0, std::string("cannot flush to disk: ") + std::strerror(err));
}

}  // namespace detail

/// A set of files written aside (short hidden temporary names in each file's folder) and put in
/// place together by `commit()`: afterwards every final path holds its new content, or, if
/// commit throws, every final path holds what it held before (previous files restored, new ones
/// removed). If the object is destroyed without `commit()`, the temporaries are removed and
/// nothing at the final paths changes. A crash inside `commit()` can still leave a mix (and
/// `.b2bseg-*` leftovers); hold a `folder_lock` so that two runs never write one folder at once.
class staged_files {
 public:
  staged_files() = default;
  staged_files(const staged_files&) = delete;
  staged_files& operator=(const staged_files&) = delete;
  ~staged_files() {
    for (auto& f : files_) {
      ::unlink(f.temp.c_str());
      if (f.backed_up) ::unlink(f.backup.c_str());
    }
  }

  /// Writes `data` to a temporary beside `path` (not yet flushed: commit flushes all at once).
  /// Throws data_error naming `path` on failure.
  void write(const std::string& path, std::string_view data) {
    ++counter_;
    files_.push_back({path, temp_name(path, "tmp"), temp_name(path, "bak"), false});
    detail::write_whole_file(files_.back().temp, data, path);
  }

  /// Flushes every temporary to disk (one syncfs per folder), then renames each into place,
  /// keeping hard-linked backups of the files replaced until all renames succeeded. Throws
  /// data_error naming the path that failed; the final paths are then as before the call.
  void commit() {
    namespace fs = std::filesystem;
    std::vector<std::string> dirs;
    for (const auto& f : files_) {
      std::string d = fs::path(f.path).parent_path().string();
      if (d.empty()) d = ".";
      if (std::find(dirs.begin(), dirs.end(), d) == dirs.end()) dirs.push_back(d);
    }
    for (const auto& d : dirs) detail::sync_folder(d, true);
    // 1. Back up every file about to be replaced (a hard link: no copy). A target that cannot be
    //    backed up (a folder, a filesystem without links) fails the commit before any change.
    for (auto& f : files_) {
      struct stat st {};
      if (::lstat(f.path.c_str(), &st) != 0) {
        if (errno == ENOENT) continue;
        fail(f.path, "cannot replace: ", errno);
      }
      if (S_ISDIR(st.st_mode)) fail(f.path, "cannot replace: ", EISDIR);
      if (::link(f.path.c_str(), f.backup.c_str()) != 0) fail(f.path, "cannot replace: ", errno);
      f.backed_up = true;
    }
    // 2. Rename into place; on a failure, undo the renames already done.
    for (std::size_t i = 0; i < files_.size(); ++i) {
      if (std::rename(files_[i].temp.c_str(), files_[i].path.c_str()) == 0) continue;
      const int err = errno;
      for (std::size_t j = 0; j < i; ++j) {
        file& u = files_[j];
        if (u.backed_up) {
          if (std::rename(u.backup.c_str(), u.path.c_str()) == 0) u.backed_up = false;
        } else {
          ::unlink(u.path.c_str());
        }
      }
      fail(files_[i].path, "cannot rename into place: ", err);
    }
    for (auto& f : files_)
      if (f.backed_up) ::unlink(f.backup.c_str());
    files_.clear();
    for (const auto& d : dirs) detail::sync_folder(d, false);
  }

 private:
  struct file {
    std::string path, temp, backup;
    bool backed_up = false;
  };

  [[noreturn]] static void fail(const std::string& path, const char* what, int err) {
    throw data_error(path, 0, 0, what + std::string(std::strerror(err)));
  }

  // `.b2bseg-PID-N.tmp` beside `path`: short whatever the final name's length.
  std::string temp_name(const std::string& path, const char* ext) {
    std::filesystem::path p(path);
    return (p.parent_path() /
            (".b2bseg-" + std::to_string(::getpid()) + "-" + std::to_string(counter_) + "." + ext))
        .string();
  }

  std::vector<file> files_;
  std::size_t counter_ = 0;
};

/// Creates output folder `out` (and its parents) when missing. Throws data_error naming it.
inline void create_output_folder(const std::string& out) {
  std::error_code ec;
  std::filesystem::create_directories(out, ec);
  if (ec) throw data_error(out, 0, 0, "cannot create folder: " + ec.message());
}

/// An exclusive advisory lock (flock) on a folder, held until destruction, so that two runs
/// writing into one folder never mix their files. Throws data_error naming the folder when
/// another process holds it, or when the folder cannot be opened.
class folder_lock {
 public:
  explicit folder_lock(const std::string& dir) {
    fd_ = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd_ < 0) throw data_error(dir, 0, 0, std::string("cannot open: ") + std::strerror(errno));
    if (::flock(fd_, LOCK_EX | LOCK_NB) != 0) {
      const int err = errno;
      ::close(fd_);
      throw data_error(dir, 0, 0,
                       err == EWOULDBLOCK
                           ? std::string("another b2bseg run is writing into this folder")
                           : std::string("cannot lock: ") + std::strerror(err));
    }
  }
  folder_lock(const folder_lock&) = delete;
  folder_lock& operator=(const folder_lock&) = delete;
  ~folder_lock() { ::close(fd_); }

 private:
  int fd_ = -1;
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
