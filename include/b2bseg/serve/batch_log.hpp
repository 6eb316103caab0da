// The write-ahead log of `serve --state` (SPEC 7): every batch the server accepts is appended
// and flushed to disk before it is answered, and read back at start after the last snapshot.
#pragma once

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <xxhash.h>

#include <cerrno>
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>
#include <vector>

#include "b2bseg/common/error.hpp"

namespace b2bseg {

/// One batch as the log holds it: its number and the change feed text it was given.
struct logged_batch {
  std::uint64_t seq = 0;
  std::string feed;
};

/// What reading a log found: its whole records, and how many bytes of a torn or damaged tail
/// were cut off (a record being written when the process died: it was never answered).
struct log_contents {
  std::vector<logged_batch> batches;
  std::uint64_t dropped_bytes = 0;
};

namespace detail::serve {

inline constexpr char log_magic[8] = {'B', '2', 'B', 'S', 'L', 'O', 'G', '\x1a'};
inline constexpr std::uint32_t log_version = 1;
inline constexpr std::uint32_t record_magic = 0x52573242;  // "B2WR", little-endian
inline constexpr std::size_t file_header_bytes = 16;       // magic, version, reserved

/// A record: this header, then `size` bytes of feed text. The checksum is XXH3-64 of the
/// header's first 16 bytes and the text, so a torn or foreign record never passes.
struct record_header {
  std::uint32_t magic;
  std::uint32_t size;
  std::uint64_t seq;
  std::uint64_t checksum;
};
static_assert(sizeof(record_header) == 24);

inline std::uint64_t record_checksum(const record_header& h, std::string_view text) {
  XXH3_state_t* st = XXH3_createState();
  if (!st) throw std::bad_alloc();
  XXH3_64bits_reset(st);
  XXH3_64bits_update(st, &h, 16);
  XXH3_64bits_update(st, text.data(), text.size());
  const std::uint64_t v = XXH3_64bits_digest(st);
  XXH3_freeState(st);
  return v;
}

inline void write_all(int fd, const char* p, std::size_t n, const std::string& path) {
  while (n) {
    const ssize_t w = ::write(fd, p, n);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) throw data_error(path, 0, 0, std::string("cannot write: ") + std::strerror(errno));
    p += w;
    n -= static_cast<std::size_t>(w);
  }
}

inline std::string file_header() {
  std::string h(log_magic, sizeof log_magic);
  h.append(reinterpret_cast<const char*>(&log_version), 4);
  h.append(4, '\0');
  return h;
}

}  // namespace detail::serve

/// An append-only file of batches. One writer; not thread-safe.
///
/// Format: a 16-byte header ("B2BSLOG" 0x1a, version 1, 4 reserved bytes), then one record per
/// batch: magic, size, seq, XXH3-64 checksum (24 bytes, little-endian), then the feed text.
class batch_log {
 public:
  /// Reads the log at `path` (absent: empty) and cuts off a torn or damaged tail, flushing the
  /// cut to disk. Throws data_error naming the file for one that is not a log, of another
  /// version, or whose records are out of order (damage no crash can cause). O(file bytes).
  static log_contents recover(const std::string& path) {
    namespace ds = detail::serve;
    log_contents out;
    const int fd = ::open(path.c_str(), O_RDWR | O_CLOEXEC);
    if (fd < 0) {
      if (errno == ENOENT) return out;
      throw data_error(path, 0, 0, std::string("cannot open: ") + std::strerror(errno));
    }
    struct closer {
      int fd;
      ~closer() { ::close(fd); }
    } c{fd};
    std::string bytes;
    char buf[1 << 16];
    for (;;) {
      const ssize_t r = ::read(fd, buf, sizeof buf);
      if (r < 0 && errno == EINTR) continue;
      if (r < 0) throw data_error(path, 0, 0, std::string("cannot read: ") + std::strerror(errno));
      if (r == 0) break;
      bytes.append(buf, static_cast<std::size_t>(r));
    }
    if (bytes.size() < ds::file_header_bytes ||
        std::memcmp(bytes.data(), ds::log_magic, sizeof ds::log_magic) != 0)
      throw data_error(path, 0, 0, "not a b2bseg change log (bad header)");
    std::uint32_t version = 0;
    std::memcpy(&version, bytes.data() + 8, 4);
    if (version != ds::log_version)
      throw data_error(path, 0, 0,
                       "change log of format version " + std::to_string(version) +
                           "; this build reads version " + std::to_string(ds::log_version));
    std::size_t pos = ds::file_header_bytes;
    while (bytes.size() - pos >= sizeof(ds::record_header)) {
      ds::record_header h;
      std::memcpy(&h, bytes.data() + pos, sizeof h);
      if (h.magic != ds::record_magic || h.size > bytes.size() - pos - sizeof h) break;
      std::string_view text(bytes.data() + pos + sizeof h, h.size);
      if (ds::record_checksum(h, text) != h.checksum) break;
      if (!out.batches.empty() && h.seq != out.batches.back().seq + 1)
        throw data_error(path, 0, 0,
                         "batch " + std::to_string(h.seq) + " follows batch " +
                             std::to_string(out.batches.back().seq) + " at byte " +
                             std::to_string(pos) + ": the log is damaged");
      out.batches.push_back({h.seq, std::string(text)});
      pos += sizeof h + h.size;
    }
    out.dropped_bytes = bytes.size() - pos;
    if (out.dropped_bytes) {
      if (::ftruncate(fd, static_cast<off_t>(pos)) != 0 || ::fsync(fd) != 0)
        throw data_error(
            path, 0, 0,
            std::string("cannot cut off the torn last record: ") + std::strerror(errno));
    }
    return out;
  }

  /// Opens the log at `path` for appending, creating it (with its header, flushed) when absent.
  /// Call `recover` first: appending after a torn tail would bury the next record. Throws
  /// data_error naming the file.
  explicit batch_log(std::string path) : path_(std::move(path)) {
    struct stat st {};
    if (::stat(path_.c_str(), &st) != 0) {
      create_empty();
    }
    fd_ = ::open(path_.c_str(), O_WRONLY | O_APPEND | O_CLOEXEC);
    if (fd_ < 0) throw data_error(path_, 0, 0, std::string("cannot open: ") + std::strerror(errno));
    const off_t end = ::lseek(fd_, 0, SEEK_END);
    size_ = end < 0 ? 0 : static_cast<std::uint64_t>(end);
  }
  batch_log(const batch_log&) = delete;
  batch_log& operator=(const batch_log&) = delete;
  ~batch_log() {
    if (fd_ >= 0) ::close(fd_);
  }

  /// Appends batch `seq` with its feed text and flushes it to disk (fdatasync) before returning.
  /// On failure the file is cut back to where it was and data_error is thrown: the batch must
  /// then not be applied. O(text).
  void append(std::uint64_t seq, std::string_view feed) {
    write(seq, feed);
    flush();
  }

  /// The first half of `append`: the record written (not yet flushed). On failure the file is
  /// cut back to where it was and data_error is thrown.
  void write(std::uint64_t seq, std::string_view feed) {
    namespace ds = detail::serve;
    if (feed.size() > 0xffffffffu) throw data_error(path_, 0, 0, "a batch over 4 GiB");
    ds::record_header h{ds::record_magic, static_cast<std::uint32_t>(feed.size()), seq, 0};
    h.checksum = ds::record_checksum(h, feed);
    std::string rec(reinterpret_cast<const char*>(&h), sizeof h);
    rec.append(feed);
    try {
      ds::write_all(fd_, rec.data(), rec.size(), path_);
    } catch (...) {
      if (::ftruncate(fd_, static_cast<off_t>(size_)) != 0) {
        // The torn record is cut off at the next start (its checksum fails).
      }
      throw;
    }
    size_ += rec.size();
    ++records_;
  }

  /// The second half: what was written is on disk when this returns (fdatasync). Throws
  /// data_error when the disk refuses; what was written since the last flush may then be lost.
  void flush() {
    if (::fdatasync(fd_) != 0)
      throw data_error(path_, 0, 0, std::string("cannot flush: ") + std::strerror(errno));
  }

  /// Replaces the log with an empty one (after a snapshot that holds every batch so far): written
  /// aside, flushed, renamed into place, the folder flushed. Throws data_error; the old log then
  /// stays (its batches are skipped at start, being in the snapshot).
  void reset() {
    create_empty();
    const int fd = ::open(path_.c_str(), O_WRONLY | O_APPEND | O_CLOEXEC);
    if (fd < 0) throw data_error(path_, 0, 0, std::string("cannot open: ") + std::strerror(errno));
    ::close(fd_);
    fd_ = fd;
    size_ = detail::serve::file_header_bytes;
    records_ = 0;
  }

  /// Records appended since it was opened or reset.
  std::uint64_t records() const noexcept { return records_; }
  const std::string& path() const noexcept { return path_; }

 private:
  // Writes an empty log beside `path_`, flushes it and renames it into place.
  void create_empty() {
    const std::string tmp = path_ + ".tmp";
    const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) throw data_error(tmp, 0, 0, std::string("cannot create: ") + std::strerror(errno));
    const std::string h = detail::serve::file_header();
    try {
      detail::serve::write_all(fd, h.data(), h.size(), tmp);
      if (::fsync(fd) != 0)
        throw data_error(tmp, 0, 0, std::string("cannot flush: ") + std::strerror(errno));
    } catch (...) {
      ::close(fd);
      ::unlink(tmp.c_str());
      throw;
    }
    ::close(fd);
    if (::rename(tmp.c_str(), path_.c_str()) != 0)
      throw data_error(path_, 0, 0,
                       std::string("cannot rename into place: ") + std::strerror(errno));
    sync_parent();
  }
  void sync_parent() const {
    std::string dir = path_.substr(0, path_.find_last_of('/') + 1);
    if (dir.empty()) dir = ".";
    const int d = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (d < 0) return;
    ::fsync(d);
    ::close(d);
  }

  std::string path_;
  int fd_ = -1;
  std::uint64_t size_ = 0, records_ = 0;
};

}  // namespace b2bseg
