// Snapshots (SPEC 2.5): a loaded, indexed graph in one file that opens by mapping it, not by
// parsing CSV. Layout, checks and costs are described in docs/snapshots.md.
#pragma once

#define XXH_INLINE_ALL
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <xxhash.h>

#include <roaring/containers/containers.h>
#include <roaring/roaring.hh>

#include <atomic>
#include <bit>
#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <limits>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

#include "b2bseg/common/error.hpp"
#include "b2bseg/common/exact.hpp"
#include "b2bseg/common/mapped_file.hpp"
#include "b2bseg/exec/parallel.hpp"
#include "b2bseg/storage/graph.hpp"
#include "b2bseg/storage/schema_json.hpp"

namespace b2bseg {

/// The snapshot format this build writes. It reads this one and the older ones back to
/// `snapshot_oldest_readable` (version 3 added the optional "source rows" section, which
/// version 2 files lack); a file of any other version is refused.
inline constexpr std::uint32_t snapshot_format_version = 3;
inline constexpr std::uint32_t snapshot_oldest_readable = 2;

/// Where a served dataset stood when `serve` wrote its snapshot (SPEC 7): the number of the
/// last batch applied and the instant `now` stood for. Absent from snapshots of plain datasets.
struct snapshot_point {
  std::uint64_t seq = 0;
  timestamp_us now = 0;
};

/// What opening a snapshot cost, for `b2bseg stats` and the benchmarks, and the serve point.
struct snapshot_info {
  std::optional<snapshot_point> point;  ///< present in a snapshot `serve` wrote
  std::uint64_t file_bytes = 0;
  std::size_t sections = 0;
  double open_ms = 0;      ///< everything: mapping, checksums, checks, bitmaps
  double checksum_ms = 0;  ///< the XXH3 pass over every section
};

namespace detail::snapshot {

inline constexpr char magic[8] = {'B', '2', 'B', 'S', 'N', 'A', 'P', '\x1a'};
inline constexpr std::uint32_t byte_order_mark = 0x01020304;
inline constexpr std::size_t alignment = 64;  // every section starts on a cache line

/// The first 64 bytes of a snapshot, little-endian.
struct header {
  char magic[8];
  std::uint32_t version;
  std::uint32_t byte_order;
  std::uint64_t file_size;
  std::uint64_t directory_offset;
  std::uint64_t directory_size;
  std::uint64_t directory_checksum;
  std::uint64_t reserved;
  std::uint64_t header_checksum;  ///< XXH3 of the 56 bytes before it
};
static_assert(sizeof(header) == 64);

/// One section: a named byte range and its XXH3.
struct entry {
  std::string name;
  std::uint64_t offset = 0, size = 0, checksum = 0;
};

inline std::string attribute_prefix(const entity_def& e, std::size_t a) {
  return e.name + "." + e.attributes[a].name + " ";
}
inline std::string link_prefix(const entity_def& e, std::size_t l) {
  return e.name + "." + e.links[l].name + " ";
}

/// Streams sections into a temporary beside the target, then the directory and the header, then
/// flushes and renames it into place.
class writer {
 public:
  writer(const std::string& path) : path_(path) {
    namespace fs = std::filesystem;
    fs::path p(path);
    // A fresh name, created exclusively (never a file or link someone else made).
    temp_ = (p.parent_path() / ".b2bseg-snapshot-XXXXXX").string();
    const int fd = ::mkstemp(temp_.data());
    if (fd < 0) {
      temp_.clear();
      fail(errno);
    }
    ::fchmod(fd, 0644);
    f_ = ::fdopen(fd, "wb");
    if (!f_) {
      const int err = errno;
      ::close(fd);
      fail(err);
    }
    static const char zeros[sizeof(header)] = {};
    put(zeros, sizeof zeros);
  }
  writer(const writer&) = delete;
  writer& operator=(const writer&) = delete;
  ~writer() {
    if (f_) std::fclose(f_);
    if (!done_ && !temp_.empty()) ::unlink(temp_.c_str());
  }

  void section(std::string name, const void* p, std::size_t n) {
    static const char zeros[alignment] = {};
    if (pos_ % alignment) put(zeros, alignment - pos_ % alignment);
    dir_.push_back({std::move(name), pos_, n, XXH3_64bits(p, n)});
    put(p, n);
  }
  template <class T>
  void array(std::string name, const pod_array<T>& a) {
    section(std::move(name), a.data(), a.size() * sizeof(T));
  }
  void bitmap(std::string name, const Roaring& r) {
    std::string buf(r.getSizeInBytes(true), '\0');
    r.write(buf.data(), true);
    section(std::move(name), buf.data(), buf.size());
  }

  /// Writes the directory and header, flushes to disk, renames into place.
  void finish() {
    std::string d;
    auto u64 = [&](std::uint64_t v) { d.append(reinterpret_cast<const char*>(&v), 8); };
    u64(dir_.size());
    for (const entry& e : dir_) {
      u64(e.offset);
      u64(e.size);
      u64(e.checksum);
      u64(e.name.size());
      d += e.name;
    }
    static const char zeros[alignment] = {};
    if (pos_ % alignment) put(zeros, alignment - pos_ % alignment);
    header h{};
    std::memcpy(h.magic, magic, sizeof magic);
    h.version = snapshot_format_version;
    h.byte_order = byte_order_mark;
    h.directory_offset = pos_;
    h.directory_size = d.size();
    h.directory_checksum = XXH3_64bits(d.data(), d.size());
    put(d.data(), d.size());
    h.file_size = pos_;
    h.header_checksum = XXH3_64bits(&h, offsetof(header, header_checksum));
    if (std::fseek(f_, 0, SEEK_SET) != 0) fail(errno);
    if (std::fwrite(&h, sizeof h, 1, f_) != 1) fail(errno);
    if (std::fflush(f_) != 0 || ::fsync(::fileno(f_)) != 0) fail(errno);
    const int rc = std::fclose(f_);
    f_ = nullptr;
    if (rc != 0) fail(errno);
    if (std::rename(temp_.c_str(), path_.c_str()) != 0) fail(errno);
    done_ = true;
    std::string dir = std::filesystem::path(path_).parent_path().string();
    const int fd = ::open(dir.empty() ? "." : dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd >= 0) {
      ::fsync(fd);  // the rename itself; errors here leave a complete file either way
      ::close(fd);
    }
  }

 private:
  void put(const void* p, std::size_t n) {
    if (n && std::fwrite(p, 1, n, f_) != n) fail(errno);
    pos_ += n;
  }
  [[noreturn]] void fail(int err) {
    throw data_error(path_, 0, 0, std::string("cannot write the snapshot: ") + std::strerror(err));
  }

  std::string path_, temp_;
  std::FILE* f_ = nullptr;
  std::uint64_t pos_ = 0;
  std::vector<entry> dir_;
  bool done_ = false;
};

/// Whether every container of `r` keeps CRoaring's invariants: keys increasing; array containers
/// of 1 to 4096 increasing values; run containers of sorted, disjoint runs inside 16 bits; bitset
/// containers holding the cardinality they state. CRoaring 0.2's `readSafe` checks only that the
/// bytes are there, and the kernels trust these invariants (a bitmap's maximum is its last
/// container's last value; a bitset's cardinality sizes what it converts into). O(size).
inline bool well_formed(const Roaring& r) {
  const roaring_array_t& ra = r.roaring.high_low_container;
  for (std::int32_t i = 0; i < ra.size; ++i) {
    if (i && ra.keys[i] <= ra.keys[i - 1]) return false;
    const void* c = ra.containers[i];
    switch (ra.typecodes[i]) {
      case ARRAY_CONTAINER_TYPE_CODE: {
        const auto* a = static_cast<const array_container_t*>(c);
        if (a->cardinality < 1 || a->cardinality > DEFAULT_MAX_SIZE) return false;
        for (std::int32_t k = 1; k < a->cardinality; ++k)
          if (a->array[k] <= a->array[k - 1]) return false;
        break;
      }
      case RUN_CONTAINER_TYPE_CODE: {
        const auto* rc = static_cast<const run_container_t*>(c);
        if (rc->n_runs < 1) return false;
        std::uint32_t last = 0;
        for (std::int32_t k = 0; k < rc->n_runs; ++k) {
          const std::uint32_t v = rc->runs[k].value, end = v + rc->runs[k].length;
          if (end > 0xFFFF || (k && v <= last)) return false;
          last = end;
        }
        break;
      }
      case BITSET_CONTAINER_TYPE_CODE: {
        const auto* b = static_cast<const bitset_container_t*>(c);
        std::int64_t n = 0;
        for (std::size_t w = 0; w < BITSET_CONTAINER_SIZE_IN_WORDS; ++w)
          n += std::popcount(b->array[w]);
        if (n != b->cardinality || n <= DEFAULT_MAX_SIZE) return false;
        break;
      }
      default:
        return false;
    }
  }
  return true;
}

/// Reads the sections of a mapped snapshot in the order the writer wrote them; every failure is
/// a data_error naming the file and the section.
class reader {
 public:
  reader(std::string path, bool schema_only) : path_(std::move(path)) {
    const int fd = ::open(path_.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) throw data_error(path_, 0, 0, std::string("cannot open: ") + std::strerror(errno));
    struct stat st {};
    if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
      ::close(fd);
      throw data_error(path_, 0, 0, "not a regular file; expected a snapshot");
    }
    if (static_cast<std::uint64_t>(st.st_size) < sizeof(header)) {
      ::close(fd);
      fail("header", "truncated: " + std::to_string(st.st_size) +
                         " bytes, fewer than the 64 of a snapshot header");
    }
    // Only the header, the directory and the schema are read for the schema: no need to read in
    // the rest.
    whole_ = std::make_shared<const mapped_file>(fd, st, !schema_only);
    ::close(fd);
    if (!whole_->ok()) throw data_error(path_, 0, 0, "cannot map the snapshot into memory");
    base_ = whole_->data();
    size_ = whole_->size();
    read_header();
  }

  const std::string& path() const noexcept { return path_; }
  const std::shared_ptr<const mapped_file>& mapping() const noexcept { return whole_; }
  std::size_t sections() const noexcept { return dir_.size(); }
  std::uint64_t file_bytes() const noexcept { return size_; }

  /// Checks the XXH3 of sections [first, last) in parallel; throws for the first mismatch.
  void verify(std::size_t first, std::size_t last) const {
    std::atomic<std::size_t> bad{last};
    b2bseg::detail::parallel_for(first, last, [&](std::size_t i) {
      const entry& e = dir_[i];
      if (XXH3_64bits(base_ + e.offset, e.size) != e.checksum) {
        std::size_t cur = bad.load();
        while (i < cur && !bad.compare_exchange_weak(cur, i)) {
        }
      }
    });
    if (bad.load() < last)
      fail(dir_[bad.load()].name, "checksum mismatch: the file is damaged (write it again)");
  }

  /// The next section, which must be called `name`.
  std::string_view next(const std::string& name) {
    if (next_ >= dir_.size())
      fail(name, "missing: the directory ends before it (the file is damaged or foreign)");
    const entry& e = dir_[next_];
    if (e.name != name)
      fail(name, "missing: found section '" + detail::escape_controls(e.name) +
                     "' in its place (the snapshot does not match its own schema)");
    ++next_;
    return {base_ + e.offset, e.size};
  }
  /// The next section as an array of `T` viewing the mapping, with `count` elements (any number
  /// when `count` is npos).
  template <class T>
  pod_array<T> array(const std::string& name, std::size_t count = std::string::npos) {
    std::string_view s = next(name);
    if (s.size() % sizeof(T)) fail(name, "size is not a whole number of elements");
    const std::size_t n = s.size() / sizeof(T);
    if (count != std::string::npos && n != count)
      fail(name, std::to_string(n) + " elements where " + std::to_string(count) + " belong");
    return pod_array<T>::view(reinterpret_cast<const T*>(s.data()), n, whole_);
  }
  Roaring bitmap(const std::string& name, std::string_view s, std::uint64_t rows) const {
    Roaring r;
    try {
      r = Roaring::readSafe(s.data(), s.size());
    } catch (const std::exception&) {
      fail(name, "malformed Roaring bitmap");
    }
    if (r.getSizeInBytes(true) != s.size() || !well_formed(r))
      fail(name, "malformed Roaring bitmap");
    if (!r.isEmpty() && r.maximum() >= rows) fail(name, "a bitmap holds a row beyond the table");
    return r;
  }
  Roaring bitmap(const std::string& name, std::uint64_t rows) {
    return bitmap(name, next(name), rows);
  }
  /// Whether every section has been read.
  /// Whether a next section exists and is called `name` (an optional one).
  bool next_is(const std::string& name) const noexcept {
    return next_ < dir_.size() && dir_[next_].name == name;
  }
  void expect_end() const {
    if (next_ != dir_.size())
      fail(dir_[next_].name, "unexpected: the snapshot holds more than its schema describes");
  }

  [[noreturn]] void fail(const std::string& section, const std::string& what) const {
    throw data_error(path_, 0, 0,
                     "snapshot section '" + detail::escape_controls(section) + "': " + what);
  }

 private:
  void read_header() {
    header h;
    std::memcpy(&h, base_, sizeof h);
    if (std::memcmp(h.magic, magic, sizeof magic) != 0)
      fail("header", "not a b2bseg snapshot (its first bytes are not the snapshot magic)");
    if (XXH3_64bits(&h, offsetof(header, header_checksum)) != h.header_checksum)
      fail("header", "checksum mismatch: the file is damaged (write it again)");
    if (h.byte_order != byte_order_mark)
      fail("header", "written on a machine of another byte order");
    if (h.version < snapshot_oldest_readable || h.version > snapshot_format_version)
      fail("header", "format version " + std::to_string(h.version) +
                         "; this b2bseg reads versions " +
                         std::to_string(snapshot_oldest_readable) + " to " +
                         std::to_string(snapshot_format_version) +
                         " (write the snapshot again with this b2bseg)");
    if (h.file_size != size_)
      fail("header", h.file_size > size_ ? "truncated: " + std::to_string(size_) + " of " +
                                               std::to_string(h.file_size) + " bytes"
                                         : "the file has " + std::to_string(size_ - h.file_size) +
                                               " bytes after its end");
    if (h.directory_offset < sizeof(header) || h.directory_offset > size_ ||
        h.directory_size > size_ - h.directory_offset)
      fail("directory", "beyond the end of the file");
    const char* d = base_ + h.directory_offset;
    if (XXH3_64bits(d, h.directory_size) != h.directory_checksum)
      fail("directory", "checksum mismatch: the file is damaged (write it again)");
    std::size_t at = 0;
    auto u64 = [&]() {
      if (h.directory_size - at < 8) fail("directory", "truncated");
      std::uint64_t v;
      std::memcpy(&v, d + at, 8);
      at += 8;
      return v;
    };
    const std::uint64_t count = u64();
    if (count > h.directory_size / 32) fail("directory", "more sections than it has room for");
    dir_.reserve(count);
    for (std::uint64_t i = 0; i < count; ++i) {
      entry e;
      e.offset = u64();
      e.size = u64();
      e.checksum = u64();
      const std::uint64_t len = u64();
      if (len > h.directory_size - at) fail("directory", "truncated");
      e.name.assign(d + at, len);
      at += len;
      if (e.offset % alignment || e.offset < sizeof(header) || e.offset > h.directory_offset ||
          e.size > h.directory_offset - e.offset)
        fail(e.name, "lies outside the file's sections");
      dir_.push_back(std::move(e));
    }
    if (at != h.directory_size) fail("directory", "bytes after its last section");
  }

  std::string path_;
  std::shared_ptr<const mapped_file> whole_;
  const char* base_ = nullptr;
  std::size_t size_ = 0;
  std::vector<entry> dir_;
  std::size_t next_ = 0;
};

/// Fails unless every element of `a` is below `limit`, or equals `allowed` (a sentinel such as
/// `no_row`; the default allows none). Parallel.
template <class T>
void check_below(const reader& rd, const std::string& name, const T* a, std::size_t n,
                 std::uint64_t limit, const char* what, std::uint64_t allowed = ~0ull) {
  if (limit > std::numeric_limits<T>::max()) return;  // every value is below
  const T lim = static_cast<T>(limit);
  // A sentinel out of T's range never occurs: then no value is let through beside the limit.
  const bool sentinel = allowed <= std::numeric_limits<T>::max();
  const T ok = sentinel ? static_cast<T>(allowed) : T(0);
  const unsigned check_sentinel = sentinel ? 1u : 0u;
  std::atomic<bool> bad{false};
  b2bseg::detail::parallel_for(
      tbb::blocked_range<std::size_t>(0, n, 1 << 16),
      [&](const tbb::blocked_range<std::size_t>& r) {
        unsigned b = 0;  // branch-free, so the compiler vectorizes the loop
        for (std::size_t i = r.begin(); i < r.end(); ++i)
          b |= unsigned(a[i] >= lim) & (unsigned(a[i] != ok) | (check_sentinel ^ 1u));
        if (b) bad.store(true, std::memory_order_relaxed);
      });
  if (bad.load()) rd.fail(name, what);
}
template <class T>
void check_below(const reader& rd, const std::string& name, const pod_array<T>& a,
                 std::uint64_t limit, const char* what, std::uint64_t allowed = ~0ull) {
  check_below(rd, name, a.data(), a.size(), limit, what, allowed);
}

/// `check_below` for 3-byte little-endian values (the codes of a code_array of width 3).
inline void check_below_3(const reader& rd, const std::string& name, const std::uint8_t* a,
                          std::size_t n, std::uint64_t limit, const char* what) {
  std::atomic<bool> bad{false};
  b2bseg::detail::parallel_for(tbb::blocked_range<std::size_t>(0, n, 1 << 16),
                               [&](const tbb::blocked_range<std::size_t>& r) {
                                 unsigned b = 0;
                                 for (std::size_t i = r.begin(); i < r.end(); ++i)
                                   b |= unsigned(load_u24(a + 3 * i) >= limit);
                                 if (b) bad.store(true, std::memory_order_relaxed);
                               });
  if (bad.load()) rd.fail(name, what);
}

/// Fails unless `offsets` starts at 0, never decreases and ends at most at `end` (exactly at
/// `end` when `exact`).
inline void check_offsets(const reader& rd, const std::string& name,
                          const pod_array<std::uint32_t>& offsets, std::uint64_t end, bool exact) {
  if (offsets.empty() || offsets[0] != 0) rd.fail(name, "offsets do not start at 0");
  std::atomic<bool> bad{false};
  b2bseg::detail::parallel_for(tbb::blocked_range<std::size_t>(1, offsets.size(), 1 << 16),
                               [&](const tbb::blocked_range<std::size_t>& r) {
                                 const std::uint32_t* o = offsets.data();
                                 unsigned b = 0;
                                 for (std::size_t i = r.begin(); i < r.end(); ++i)
                                   b |= unsigned(o[i] < o[i - 1]);
                                 if (b) bad.store(true, std::memory_order_relaxed);
                               });
  if (bad.load()) rd.fail(name, "offsets decrease");
  if (offsets.back() > end || (exact && offsets.back() != end))
    rd.fail(name, "offsets end beyond the data they index");
}

/// Reads a sorted string dictionary (characters + offsets).
inline string_dictionary read_dictionary(reader& rd, const std::string& prefix) {
  auto chars = rd.array<char>(prefix + "dictionary");
  auto offsets = rd.array<std::uint32_t>(prefix + "dictionary offsets");
  check_offsets(rd, prefix + "dictionary offsets", offsets, chars.size(), true);
  return string_dictionary(std::move(chars), std::move(offsets));
}

/// Reads the per-value bitmaps of a string or string[] column: `count` of them (0: none).
inline std::vector<Roaring> read_value_bitmaps(reader& rd, const std::string& prefix,
                                               std::uint64_t count, std::uint64_t rows) {
  const std::string name = prefix + "value bitmaps";
  std::string_view all = rd.next(name);
  auto offsets = rd.array<std::uint64_t>(prefix + "value bitmap offsets", count ? count + 1 : 0);
  std::vector<Roaring> out(count);
  if (!count) {
    if (!all.empty()) rd.fail(name, "bitmaps without a dictionary");
    return out;
  }
  if (offsets[0] != 0 || offsets[count] != all.size())
    rd.fail(prefix + "value bitmap offsets", "offsets do not cover the bitmaps");
  for (std::uint64_t k = 0; k < count; ++k)
    if (offsets[k + 1] < offsets[k]) rd.fail(prefix + "value bitmap offsets", "offsets decrease");
  b2bseg::detail::parallel_for(std::uint64_t(0), count, [&](std::uint64_t k) {
    out[k] = rd.bitmap(name, all.substr(offsets[k], offsets[k + 1] - offsets[k]), rows);
  });
  return out;
}

inline void write_value_bitmaps(writer& w, const std::string& prefix, const column& c) {
  const std::size_t count = c.has_value_bitmaps() ? c.dictionary().size() : 0;
  std::vector<std::uint64_t> offsets;
  std::string all;
  if (count) {
    offsets.push_back(0);
    for (std::size_t k = 0; k < count; ++k) {
      const Roaring& r = c.value_bitmap(static_cast<std::uint32_t>(k));
      const std::size_t at = all.size();
      all.resize(at + r.getSizeInBytes(true));
      r.write(all.data() + at, true);
      offsets.push_back(all.size());
    }
  }
  w.section(prefix + "value bitmaps", all.data(), all.size());
  w.section(prefix + "value bitmap offsets", offsets.data(), offsets.size() * 8);
}

/// Recomputes every checksum of the snapshot bytes in `buf` (sections, directory, header), so
/// that the tests and the fuzzer reach the checks behind the checksums with crafted files.
/// Returns false (and changes nothing) when the header or directory cannot be walked.
inline bool reseal(std::string& buf) {
  if (buf.size() < sizeof(header)) return false;
  header h;
  std::memcpy(&h, buf.data(), sizeof h);
  if (h.directory_offset > buf.size() || h.directory_size > buf.size() - h.directory_offset)
    return false;
  char* d = buf.data() + h.directory_offset;
  std::size_t at = 0;
  auto u64 = [&](std::uint64_t& v) {
    if (h.directory_size - at < 8) return false;
    std::memcpy(&v, d + at, 8);
    at += 8;
    return true;
  };
  std::uint64_t count = 0;
  if (!u64(count)) return false;
  std::vector<std::pair<std::size_t, std::uint64_t>> sums;  // where in the directory, what
  for (std::uint64_t i = 0; i < count; ++i) {
    std::uint64_t offset, size, checksum, len;
    if (!u64(offset) || !u64(size)) return false;
    const std::size_t checksum_at = at;
    if (!u64(checksum) || !u64(len) || len > h.directory_size - at) return false;
    at += len;
    if (offset > buf.size() || size > buf.size() - offset) return false;
    sums.emplace_back(checksum_at, XXH3_64bits(buf.data() + offset, size));
  }
  for (auto [where, sum] : sums) std::memcpy(d + where, &sum, 8);
  h.directory_checksum = XXH3_64bits(d, h.directory_size);
  h.header_checksum = XXH3_64bits(&h, offsetof(header, header_checksum));
  std::memcpy(buf.data(), &h, sizeof h);
  return true;
}

}  // namespace detail::snapshot

/// Writes `g` to the snapshot file `path` (SPEC 2.5): the schema as JSON, then every key table,
/// column and link as it lies in memory (Roaring bitmaps in CRoaring's portable format), each
/// section XXH3-checksummed and 64-byte aligned. The file is written beside `path`, flushed and
/// renamed into place, so `path` holds the old file or the whole new one. O(graph bytes).
/// With `point`, the file also records where a served dataset stood (`serve`, SPEC 7), read back
/// into `snapshot_info::point`. `sources` (`live_rows::save_sources` of the rows `g` was built
/// from; by default `g.sources()`, what the snapshot `g` came from carried) goes into the
/// optional "source rows" section, so that changes can follow a dataset with sources. Throws
/// data_error naming `path` when it cannot be written, or when `g` views a snapshot file that
/// changed underneath it (then nothing is written).
inline void write_snapshot(const graph& g, const std::string& path,
                           const snapshot_point* point = nullptr,
                           const std::string* sources = nullptr) {
  namespace ds = detail::snapshot;
  ds::writer w(path);
  const schema& s = g.schema();
  const std::string schema_text = to_json(s);
  try {  // a schema built in code may hold what schema.json cannot: refuse it before writing
    parse_schema(schema_text, "schema");
  } catch (const data_error& e) {
    throw data_error(path, 0, 0,
                     std::string("the schema cannot be written as schema.json: ") + e.what());
  }
  w.section("schema", schema_text.data(), schema_text.size());
  // Sizes and shapes, one uint64 each, in the order the reader takes them.
  std::vector<std::uint64_t> meta;
  for (entity_id e = 0; e < s.entities.size(); ++e) {
    const entity_table& t = g.table(e);
    meta.push_back(t.rows);
    for (const column& c : t.columns) {
      const bool strings = c.type() == value_type::string || c.type() == value_type::string_list;
      const bool ints = c.type() == value_type::integer || c.type() == value_type::timestamp;
      meta.push_back(c.type() == value_type::string ? c.codes().width()
                     : ints                         ? c.ints().width()
                                                    : 0);
      meta.push_back(strings && c.has_value_bitmaps() ? c.dictionary().size() : 0);
    }
    for (const link_index& l : t.links) {
      meta.push_back(l.set_count());
      meta.push_back(l.clustered());
    }
  }
  w.section("meta", meta.data(), meta.size() * 8);
  for (entity_id e = 0; e < s.entities.size(); ++e) {
    const entity_def& def = s.entities[e];
    const entity_table& t = g.table(e);
    if (t.has_key) {
      w.array(def.name + " keys", t.keys.chars());
      w.array(def.name + " key offsets", t.keys.offsets());
      w.array(def.name + " key slots", t.keys.slots());
    }
    for (std::size_t a = 0; a < t.columns.size(); ++a) {
      const column& c = t.columns[a];
      const std::string p = ds::attribute_prefix(def, a);
      w.bitmap(p + "nulls", c.nulls());
      switch (c.type()) {
        case value_type::integer:
        case value_type::timestamp: {
          const std::int64_t frame[2] = {c.ints().base(), c.ints().scale()};
          w.section(p + "frame", frame, sizeof frame);
          w.array(p + "values", c.ints().bytes());
          break;
        }
        case value_type::floating:
          w.section(p + "values", c.floats().data(), c.floats().size() * 8);
          break;
        case value_type::boolean:
          w.bitmap(p + "trues", c.trues());
          break;
        case value_type::string:
        case value_type::string_list:
          w.array(p + "dictionary", c.dictionary().chars());
          w.array(p + "dictionary offsets", c.dictionary().offsets());
          if (c.type() == value_type::string) {
            w.array(p + "codes", c.codes().bytes());
          } else {
            w.array(p + "list offsets", detail_column_access::list_offsets(c));
            w.array(p + "list codes", detail_column_access::list_codes(c));
          }
          ds::write_value_bitmaps(w, p, c);
          break;
      }
    }
    for (std::size_t l = 0; l < t.links.size(); ++l) {
      const link_index& li = t.links[l];
      const std::string p = ds::link_prefix(def, l);
      w.section(p + "parents", li.parents().data(), li.parents().size() * 4);
      w.section(p + "offsets", li.offsets().data(), li.offsets().size() * 4);
      w.array(p + "targets", li.targets());
    }
  }
  // A graph that views a snapshot which shrank meanwhile read zeros: write nothing of it.
  if (g.mapping_changed())
    throw data_error(path, 0, 0,
                     "the snapshot this graph was opened from changed while it was copied; nothing "
                     "written");
  if (point) {
    const std::uint64_t v[2] = {point->seq, static_cast<std::uint64_t>(point->now)};
    w.section("serve point", v, sizeof v);
  }
  if (!sources && g.sources()) sources = &g.sources()->bytes;
  if (sources && !sources->empty()) w.section("source rows", sources->data(), sources->size());
  w.finish();
}

/// The schema of the snapshot at `path`, reading only its header, directory and schema section.
/// Throws data_error naming the file and section (see `open_snapshot`).
inline schema read_snapshot_schema(const std::string& path) {
  detail::snapshot::reader rd(path, true);
  if (rd.sections() == 0) rd.fail("schema", "missing: the snapshot has no sections");
  rd.verify(0, 1);
  std::string_view text = rd.next("schema");
  return parse_schema(text, path + " (section 'schema')");
}

/// Opens the snapshot at `path` (SPEC 2.5) by mapping it: key tables, values, codes and link
/// arrays view the mapping (shared by the graph, unmapped when the last array goes); Roaring
/// bitmaps are deserialized. Every section's XXH3 is checked first (all in parallel: a damaged
/// file fails here, never during an evaluation), then every offset, code, parent and child is
/// checked to lie within what it indexes, so no read of the graph goes outside the file.
/// O(file bytes), dominated by one read of the file. Throws data_error naming the file and the
/// section: not a snapshot, another format version, truncated, checksum mismatch, inconsistent.
inline graph open_snapshot(const std::string& path, snapshot_info* info = nullptr) {
  namespace ds = detail::snapshot;
  const auto t0 = std::chrono::steady_clock::now();
  ds::reader rd(path, false);
  rd.verify(0, rd.sections());
  const auto t1 = std::chrono::steady_clock::now();
  std::string_view text = rd.next("schema");
  schema s = parse_schema(text, path + " (section 'schema')");
  auto meta = rd.array<std::uint64_t>("meta");
  std::size_t m = 0;
  auto take = [&]() {
    if (m >= meta.size()) rd.fail("meta", "shorter than the schema needs");
    return meta[m++];
  };
  std::vector<entity_table> tables(s.entities.size());
  std::vector<std::vector<std::uint64_t>> column_meta(s.entities.size()),
      link_meta(s.entities.size());
  for (entity_id e = 0; e < s.entities.size(); ++e) {
    tables[e].rows = take();
    if (tables[e].rows >= no_row) rd.fail("meta", "a table with more rows than row ids");
    for (std::size_t a = 0; a < s.entities[e].attributes.size(); ++a) {
      column_meta[e].push_back(take());
      column_meta[e].push_back(take());
    }
    for (std::size_t l = 0; l < s.entities[e].links.size(); ++l) {
      link_meta[e].push_back(take());
      link_meta[e].push_back(take());
    }
  }
  if (m != meta.size()) rd.fail("meta", "longer than the schema needs");
  using acc = detail_column_access;
  for (entity_id e = 0; e < s.entities.size(); ++e) {
    const entity_def& def = s.entities[e];
    entity_table& t = tables[e];
    const std::uint64_t rows = t.rows;
    t.has_key = def.key.has_value();
    if (t.has_key) {
      auto chars = rd.array<char>(def.name + " keys");
      auto offsets = rd.array<std::uint32_t>(def.name + " key offsets", rows + 1);
      ds::check_offsets(rd, def.name + " key offsets", offsets, chars.size(), true);
      auto slots = rd.array<row_id>(def.name + " key slots");
      if (slots.size() < rows + 1)
        rd.fail(def.name + " key slots", "not a hash table for the keys");
      ds::check_below(rd, def.name + " key slots", slots, rows, "a slot beyond the table", no_row);
      std::size_t empty = 0;
      for (row_id r : slots) empty += r == no_row;
      if (empty != slots.size() - rows)
        rd.fail(def.name + " key slots", "not a hash table for the keys");
      t.keys = key_index(std::move(chars), std::move(offsets), std::move(slots));
    }
    t.columns.resize(def.attributes.size());
    for (std::size_t a = 0; a < def.attributes.size(); ++a) {
      const std::string p = ds::attribute_prefix(def, a);
      const std::uint64_t width = column_meta[e][2 * a], bitmaps = column_meta[e][2 * a + 1];
      column c(def.attributes[a].type);
      acc::size(c) = rows;
      acc::nulls(c) = rd.bitmap(p + "nulls", rows);
      switch (c.type()) {
        case value_type::integer:
        case value_type::timestamp: {
          // value = base + scale * stored; every stored value must give an int64.
          auto frame = rd.array<std::int64_t>(p + "frame", 2);
          const std::int64_t base = frame[0], scale = frame[1];
          if (width != 1 && width != 2 && width != 4 && width != 8)
            rd.fail("meta", "bad value width");
          if (scale < 1 || (width == 8 && (base != 0 || scale != 1)))
            rd.fail(p + "frame", "not a frame for the values");
          acc::ints(c) = int_array(static_cast<unsigned>(width), base, scale,
                                   rd.array<std::uint8_t>(p + "values", rows * width));
          // The largest stored value that decodes inside int64, plus one (saturating: base
          // INT64_MIN and scale 1 allow every stored value).
          const auto top = static_cast<std::uint64_t>(
              (detail::int128(std::numeric_limits<std::int64_t>::max()) - base) / scale);
          const std::uint64_t limit = top == ~std::uint64_t{0} ? top : top + 1;
          c.ints().with_stored([&](const auto* v) {
            if constexpr (std::is_unsigned_v<std::remove_cv_t<std::remove_pointer_t<decltype(v)>>>)
              ds::check_below(rd, p + "values", v, rows, limit, "a value beyond the int64 range");
          });
          break;
        }
        case value_type::floating:
          acc::floats(c) = rd.array<double>(p + "values", rows);
          break;
        case value_type::boolean:
          acc::trues(c) = rd.bitmap(p + "trues", rows);
          break;
        case value_type::string:
        case value_type::string_list: {
          acc::dictionary(c) = ds::read_dictionary(rd, p);
          const std::size_t dict = c.dictionary().size();
          if (c.type() == value_type::string) {
            if (width < 1 || width > 4) rd.fail("meta", "bad code width");
            auto bytes = rd.array<std::uint8_t>(p + "codes", rows * width);
            acc::codes(c) = code_array(static_cast<unsigned>(width), std::move(bytes));
            const std::uint64_t limit = dict;
            const std::string cn = p + "codes";
            // Null rows hold code 0 (meaningless, but kernels read it): without values, every
            // row must be null, and code 0 is then the only one.
            if (dict == 0 && c.nulls().cardinality() != rows)
              rd.fail(p + "dictionary", "rows with a value but no dictionary");
            const std::uint8_t* b = c.codes().bytes().data();
            const char* what = "a code beyond the dictionary";
            if (dict == 0)
              ds::check_below(rd, cn, b, rows * width, 1, what);
            else if (width == 1)
              ds::check_below(rd, cn, b, rows, limit, what);
            else if (width == 2)  // sections are 64-byte aligned, so the codes are too
              ds::check_below(rd, cn, reinterpret_cast<const std::uint16_t*>(b), rows, limit, what);
            else if (width == 3)
              ds::check_below_3(rd, cn, b, rows, limit, what);
            else
              ds::check_below(rd, cn, reinterpret_cast<const std::uint32_t*>(b), rows, limit, what);
          } else {
            auto offsets = rd.array<std::uint32_t>(p + "list offsets", rows + 1);
            auto codes = rd.array<std::uint32_t>(p + "list codes");
            ds::check_offsets(rd, p + "list offsets", offsets, codes.size(), true);
            ds::check_below(rd, p + "list codes", codes, dict, "a code beyond the dictionary");
            acc::list_offsets(c) = std::move(offsets);
            acc::list_codes(c) = std::move(codes);
          }
          if (bitmaps && bitmaps != dict) rd.fail("meta", "value bitmaps and dictionary disagree");
          acc::value_bitmaps(c) = ds::read_value_bitmaps(rd, p, bitmaps, rows);
          break;
        }
      }
      t.columns[a] = std::move(c);
    }
    t.links.resize(def.links.size());
    for (std::size_t l = 0; l < def.links.size(); ++l) {
      const std::string p = ds::link_prefix(def, l);
      const std::uint64_t set_count = link_meta[e][2 * l];
      const bool clustered = link_meta[e][2 * l + 1] != 0;
      const std::uint64_t target_rows = tables[def.links[l].target].rows;
      if (link_meta[e][2 * l + 1] > 1 || set_count > rows)
        rd.fail("meta", "bad link shape for " + p);
      auto parents = rd.array<row_id>(p + "parents", rows);
      ds::check_below(rd, p + "parents", parents, target_rows, "a parent beyond the target table",
                      no_row);
      auto offsets = rd.array<std::uint32_t>(p + "offsets", target_rows + 1);
      ds::check_offsets(rd, p + "offsets", offsets, set_count, true);
      auto targets = rd.array<row_id>(p + "targets", clustered ? 0 : set_count);
      ds::check_below(rd, p + "targets", targets, rows, "a child beyond the table");
      if (clustered) {
        std::size_t n = 0;
        for (row_id r : parents) n += std::size_t(r != no_row);
        if (n != set_count) rd.fail(p + "parents", "set parents disagree with the offsets");
      }
      t.links[l] = link_index(std::move(parents), std::move(offsets), std::move(targets), set_count,
                              clustered);
    }
  }
  std::optional<snapshot_point> point;
  if (rd.next_is("serve point")) {
    auto v = rd.array<std::uint64_t>("serve point", 2);
    point = snapshot_point{v[0], static_cast<timestamp_us>(v[1])};
  }
  std::shared_ptr<graph::saved_sources> sources;
  if (rd.next_is("source rows")) {
    const std::string_view bytes = rd.next("source rows");
    sources = std::make_shared<graph::saved_sources>(
        graph::saved_sources{std::string(bytes), path + " (section 'source rows')"});
  }
  rd.expect_end();
  graph g(std::move(s), std::move(tables));
  g.set_mapping(rd.mapping());
  g.set_sources(std::move(sources));
  if (info) {
    info->point = point;
    const auto t2 = std::chrono::steady_clock::now();
    info->file_bytes = rd.file_bytes();
    info->sections = rd.sections();
    info->checksum_ms = std::chrono::duration<double, std::milli>(t1 - t0).count();
    info->open_ms = std::chrono::duration<double, std::milli>(t2 - t0).count();
  }
  return g;
}

/// True when `path` is a regular file that starts with the snapshot magic (so `--data` names a
/// snapshot rather than a dataset folder). Never throws.
inline bool is_snapshot(const std::string& path) noexcept {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0 || !S_ISREG(st.st_mode)) return false;
  std::FILE* f = std::fopen(path.c_str(), "rb");
  if (!f) return false;
  char m[sizeof detail::snapshot::magic] = {};
  const bool ok = std::fread(m, 1, sizeof m, f) == sizeof m &&
                  std::memcmp(m, detail::snapshot::magic, sizeof m) == 0;
  std::fclose(f);
  return ok;
}

}  // namespace b2bseg
