// RFC 4180 CSV reading: a whole file in memory, quote-aware splitting into chunks, record readers.
#pragma once

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <bit>
#include <cerrno>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>
#include <string>
#include <string_view>
#include <system_error>
#include <unordered_map>
#include <utility>
#include <vector>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

#include <tbb/blocked_range.h>
#include <tbb/enumerable_thread_specific.h>
#include <tbb/parallel_for.h>

#include "b2bseg/common/error.hpp"
#include "b2bseg/common/mapped_file.hpp"
#include "b2bseg/exec/parallel.hpp"

// Format accepted (SPEC 2.2), exactly:
// - Records end with `\n` or `\r\n`; the last record may lack a line end. A `\r` not followed by
//   `\n` is an ordinary byte of an unquoted field.
// - Fields are separated by `,`. A field is either unquoted (no `"` at all, no `,`, no line end)
//   or quoted: `"` ... `"`, where `""` stands for one `"` and commas, `\r` and `\n` are data. A
//   closing quote must be followed by `,`, a line end or the end of the file.
// - The first record is the header. It names the columns; names are non-empty and unique.
// - A UTF-8 byte-order mark at the very start is skipped; the whole file must be valid UTF-8.
// - Blank lines (and stray `\r`) at the very end of the file are ignored. A blank line elsewhere
//   is a record with one empty field: a field-count error when the header has several columns, an
//   empty (null) value when it has one. So a one-column file cannot end in empty values.
// - Line numbers are physical lines (a quoted newline starts a new line), 1-based, the header
//   being line 1. Columns are 1-based byte offsets within their line, not counting the BOM.

namespace b2bseg {

/// A piece of a csv_file's body starting at a record boundary. `first_line` is the 1-based line
/// where its first record starts. Points into the csv_file, which must outlive it.
struct csv_chunk {
  const char* begin = nullptr;
  const char* end = nullptr;
  std::size_t first_line = 0;
  /// Where scans stop: null for the body's end (a chunk of the file's own text), `end` for a
  /// chunk copied out of the file (csv_file::copy_chunk).
  const char* limit = nullptr;
};

/// Reusable room for bytes copied out of a file (csv_file::copy_chunk): grows, never shrinks,
/// is not zeroed. Owns its bytes. One per thread.
class chunk_buffer {
 public:
  /// Room for `n` bytes; earlier contents are lost when it grows. O(n) when it grows.
  char* reserve(std::size_t n) {
    if (n > cap_) {
      data_ = std::make_unique_for_overwrite<char[]>(n);
      cap_ = n;
    }
    return data_.get();
  }

 private:
  std::unique_ptr<char[]> data_;
  std::size_t cap_ = 0;
};

namespace detail {

inline constexpr std::uint64_t swar_ones = 0x0101010101010101ULL;
inline constexpr std::uint64_t swar_highs = 0x8080808080808080ULL;
inline constexpr std::uint64_t swar_lows = 0x7F7F7F7F7F7F7F7FULL;

inline std::uint64_t load64(const void* p) noexcept {
  std::uint64_t v;
  std::memcpy(&v, p, sizeof v);
  return v;
}

/// Eight bytes at `p` as a word whose lowest byte is `p[0]`, whatever the byte order.
inline std::uint64_t load64_le(const void* p) noexcept {
  const std::uint64_t v = load64(p);
  if constexpr (std::endian::native == std::endian::big) return __builtin_bswap64(v);
  return v;
}

/// The bytes of `v` equal to `c` get their high bit set, every other bit is zero. Exact: the
/// addition cannot carry from one byte into the next because the high bits are masked off first.
inline std::uint64_t swar_match(std::uint64_t v, unsigned char c) noexcept {
  const std::uint64_t x = v ^ (swar_ones * c);
  return ~(((x & swar_lows) + swar_lows) | x) & swar_highs;
}

/// Sum of the eight bytes of `v`: pairs are added into 16-bit lanes (each at most 510), then
/// the four lanes are summed by one multiplication into the top 16 bits (at most 2040).
inline std::size_t swar_sum_bytes(std::uint64_t v) noexcept {
  constexpr std::uint64_t even_bytes = 0x00FF00FF00FF00FFULL;
  const std::uint64_t pairs = (v & even_bytes) + ((v >> 8) & even_bytes);
  return static_cast<std::size_t>((pairs * 0x0001000100010001ULL) >> 48);
}

/// Counts `"` and `\n` in [b, e). About 8 bytes per few instructions, no branches per byte.
inline void count_quotes_and_newlines(const char* b, const char* e, std::size_t& quotes,
                                      std::size_t& newlines) noexcept {
  std::size_t q = 0, n = 0;
  while (e - b >= 8) {
    // Per-byte counters (one per lane) flushed before any lane can reach 256.
    std::uint64_t qa = 0, na = 0;
    const char* stop = b + std::min<std::ptrdiff_t>((e - b) / 8, 255) * 8;
    for (; b < stop; b += 8) {
      const std::uint64_t v = load64(b);
      qa += swar_match(v, '"') >> 7;
      na += swar_match(v, '\n') >> 7;
    }
    q += swar_sum_bytes(qa);
    n += swar_sum_bytes(na);
  }
  for (; b < e; ++b) {
    q += *b == '"';
    n += *b == '\n';
  }
  quotes += q;
  newlines += n;
}

/// Where the bytes `,`, `"` and `\n` are in a block of scanner::width bytes: a matching byte k
/// sets one bit b of its mask with b >> scanner::shift == k; bits rise with k.
struct csv_masks {
  std::uint64_t commas, quotes, newlines;
};

/// Portable scanner: eight bytes per step in a 64-bit word; byte k sets bit 8k + 7.
struct swar_scanner {
  static constexpr std::size_t width = 8;
  static constexpr int shift = 3;
  static csv_masks scan(const char* p) noexcept {
    const std::uint64_t w = load64_le(p);
    return {swar_match(w, ','), swar_match(w, '"'), swar_match(w, '\n')};
  }
};

#if defined(__SSE2__)
/// SSE2 scanner (every x86-64 has SSE2): sixteen bytes per step; byte k sets bit k.
struct sse2_scanner {
  static constexpr std::size_t width = 16;
  static constexpr int shift = 0;
  static csv_masks scan(const char* p) noexcept {
    const __m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p));
    auto mask = [&v](char c) {
      return static_cast<std::uint64_t>(
          static_cast<unsigned>(_mm_movemask_epi8(_mm_cmpeq_epi8(v, _mm_set1_epi8(c)))));
    };
    return {mask(','), mask('"'), mask('\n')};
  }
};
using csv_scanner = sse2_scanner;
#else
using csv_scanner = swar_scanner;
#endif

inline constexpr std::size_t npos = static_cast<std::size_t>(-1);

/// Validates the UTF-8 sequences of `s[0, n)` that start in [b, e), reading past `e` to finish
/// the last one. Leading continuation bytes (at most 3) of a block with b > 0 belong to the
/// previous block's last sequence, which checks them, and that block also checks that no
/// continuation byte follows its last sequence: so blocks validated independently together
/// validate exactly the whole. Rejects overlong forms, surrogates and code points > U+10FFFF.
/// Returns the offset of the first bad sequence's first byte, or npos. O(e - b).
inline std::size_t utf8_check(const unsigned char* s, std::size_t n, std::size_t b,
                              std::size_t e) noexcept {
  std::size_t i = b;
  if (b > 0) {
    for (int k = 0; k < 3 && i < e && (s[i] & 0xC0) == 0x80; ++k) ++i;
    // A block holding nothing but the tail of a character from before: the block of that
    // character's lead judges it, and what follows it.
    if (i == e) return npos;
  }
  while (i < e) {
    if (e - i >= 8 && (load64(s + i) & swar_highs) == 0) {
      i += 8;
      continue;
    }
    const unsigned c = s[i];
    if (c < 0x80) {
      ++i;
      continue;
    }
    std::size_t len = 0;
    unsigned lo = 0x80, hi = 0xBF;  // allowed range of the second byte
    if (c >= 0xC2 && c <= 0xDF) {
      len = 2;
    } else if (c >= 0xE0 && c <= 0xEF) {
      len = 3;
      if (c == 0xE0)
        lo = 0xA0;  // overlong
      else if (c == 0xED)
        hi = 0x9F;  // surrogates
    } else if (c >= 0xF0 && c <= 0xF4) {
      len = 4;
      if (c == 0xF0)
        lo = 0x90;  // overlong
      else if (c == 0xF4)
        hi = 0x8F;  // > U+10FFFF
    } else {
      return i;  // continuation byte without a lead, C0, C1, F5-FF
    }
    if (n - i < len || s[i + 1] < lo || s[i + 1] > hi) return i;
    for (std::size_t k = 2; k < len; ++k)
      if ((s[i + k] & 0xC0) != 0x80) return i;
    i += len;
  }
  if (i < n && (s[i] & 0xC0) == 0x80) return i;
  return npos;
}

/// Lowers `first` to `at` unless it already holds less (threads racing to report the first
/// offset of something).
inline void lower_to(std::atomic<std::size_t>& first, std::size_t at) noexcept {
  std::size_t cur = first.load(std::memory_order_relaxed);
  while (at < cur && !first.compare_exchange_weak(cur, at)) {
  }
}

/// Offset of the first invalid UTF-8 sequence of `data[0, n)` that starts in [from, to), or
/// npos; windows taken in order give the answer of the whole (a sequence is judged where it
/// starts). Validates blocks of `block` bytes in parallel (oneTBB) when the window is larger
/// than one block. O(to - from).
inline std::size_t utf8_first_error_in(const char* data, std::size_t n, std::size_t from,
                                       std::size_t to,
                                       std::size_t block = std::size_t{1} << 20) noexcept {
  const auto* s = reinterpret_cast<const unsigned char*>(data);
  if (to - from <= block) return utf8_check(s, n, from, to);
  const std::size_t blocks = (to - from + block - 1) / block;
  std::atomic<std::size_t> first{npos};
  b2bseg::detail::parallel_for(tbb::blocked_range<std::size_t>(0, blocks, 1),
                               [&](const tbb::blocked_range<std::size_t>& r) {
                                 for (std::size_t k = r.begin(); k < r.end(); ++k) {
                                   const std::size_t b = from + k * block;
                                   if (b >= first.load(std::memory_order_relaxed)) return;
                                   lower_to(first, utf8_check(s, n, b, std::min(to, b + block)));
                                 }
                               });
  return first.load();
}

/// Offset of the first invalid UTF-8 sequence in `data[0, n)`, or npos. Validates blocks of
/// `block` bytes in parallel (oneTBB) when `n` is larger than one block. O(n).
inline std::size_t utf8_first_error(const char* data, std::size_t n,
                                    std::size_t block = std::size_t{1} << 20) noexcept {
  return utf8_first_error_in(data, n, 0, n, block);
}

}  // namespace detail

class csv_record_reader;

/// A whole CSV file in memory, with its header parsed and its UTF-8 validated. Owns its bytes on
/// the heap: moving a csv_file keeps chunks valid. Move-only. Readers refer to the csv_file object
/// itself, so it must not move or die while readers are in use.
class csv_file {
 public:
  /// Reads the file at `path` with read(2) into one buffer, then validates it as from_string
  /// does. Cost: one pass over the file (parallel). Throws data_error naming `path`:
  /// "cannot open: REASON" (missing, unreadable, a directory), "cannot read: REASON", and every
  /// error of from_string.
  static csv_file open(const std::string& path);
  /// Same as open, for a reader that holds only part of a large file at a time: a regular
  /// file's pages are read only when touched, and opening and `split` scan copies of 4 MiB
  /// pieces read with pread(2) instead (see mapped_file::read), so that this process never
  /// holds the whole file. Its reader copies each chunk the same way (copy_chunk). `piece`
  /// sets the scans' piece size (tests use tiny ones to cross every boundary).
  /// With `check_body` false, only the header's bytes are checked for UTF-8 at open: a reader
  /// of part of the file checks the parts it reads (first_invalid_utf8) and reports what it finds
  /// as open would (utf8_error). An error in the header, or a malformed header, is told exactly
  /// as open tells it.
  static csv_file open_lean(const std::string& path, bool check_body = true,
                            std::size_t piece = std::size_t{4} << 20);

  /// Same as open, from `text`, which it takes over. `name` is the file name in error messages.
  /// Throws data_error: "file is empty" (nothing but a BOM and blank lines), "invalid UTF-8 byte
  /// 0xXX" at its line and column, a malformed header (see csv_record_reader::next), "empty
  /// column name in header", "duplicate column name 'X' in header".
  static csv_file from_string(std::string text, std::string name);

  csv_file(csv_file&&) noexcept = default;
  csv_file& operator=(csv_file&&) noexcept = default;

  /// True when the mapped file shrank or was modified since open (reads of lost pages gave
  /// zeros): whatever was read from it cannot be trusted. False for text not mapped. O(1).
  bool changed() const noexcept { return data_ && data_->map.changed(); }
  /// Throws data_error "file changed while it was being loaded ..." when changed(), or, given
  /// `before` (the status of an earlier opening of the same file: mapped_status()), when this
  /// mapping's file is not the one `before` saw (size or modification time).
  void throw_if_changed(const struct stat* before = nullptr) const {
    if (changed() || (before && data_ && data_->map.ok() && !data_->map.same_as(*before)))
      throw_changed();
  }

  /// Gives back the memory of the mapped pages overlapping [b, e), a range of this file's text
  /// (see mapped_file::drop); views into it stay valid and read the file again when touched. A
  /// no-op for text not mapped. For a reader that is done with part of a large file.
  void drop_pages(const char* b, const char* e) const noexcept {
    if (data_ && data_->map.ok() && e > b)
      data_->map.drop(static_cast<std::size_t>(b - data_->map.data()),
                      static_cast<std::size_t>(e - b));
  }

  /// Chunk `c` of this file (from split) over a copy of its bytes in `buf`, read with pread(2)
  /// so that the mapping's pages are never touched (see mapped_file::read); records read from
  /// it are those of `c`, with the same lines and columns. Views into it live until `buf` is
  /// reused. Returns `c` itself for text not mapped. Throws data_error "file changed while it
  /// was being loaded ..." when the file no longer holds the chunk. O(chunk bytes).
  csv_chunk copy_chunk(const csv_chunk& c, chunk_buffer& buf) const {
    if (!data_ || !data_->map.ok() || c.end <= c.begin) return c;
    const auto from = static_cast<std::size_t>(c.begin - data_->map.data());
    const auto n = static_cast<std::size_t>(c.end - c.begin);
    const char* out = copy_range(from, from + n, buf);
    return csv_chunk{out, out + n, c.first_line, out + n};
  }

  /// The mapped file's status when it was opened (fstat), or null for text not mapped.
  const struct stat* mapped_status() const noexcept {
    return data_ && data_->map.ok() ? &data_->map.status() : nullptr;
  }
  /// The whole text: header, body and what follows (record views point into it).
  std::string_view text() const noexcept { return {data_->data(), data_->size()}; }

  /// The name used in error messages: the path given to open, or the name given to from_string.
  const std::string& name() const noexcept { return name_; }
  /// Header column names, unquoted, BOM stripped, in file order.
  const std::vector<std::string>& header() const noexcept { return header_; }
  /// Index of the first header column named exactly `n`, or -1. O(1) expected.
  int find_column(std::string_view n) const noexcept {
    auto it = columns_.find(n);
    return it == columns_.end() ? -1 : static_cast<int>(it->second);
  }
  /// Index of the header column named exactly `n`, for a column the caller reads. Throws
  /// data_error at line 1: "column 'n' named in the schema is missing from the header", or, when
  /// the header names it more than once, "duplicate column name 'n' in header" at its second
  /// occurrence (other columns may repeat: they are ignored). O(1) expected.
  std::size_t require_column(std::string_view n) const {
    auto it = columns_.find(n);
    if (it == columns_.end())
      throw data_error(
          name_, 1, 0,
          "column '" + std::string(n) + "' named in the schema is missing from the " + "header");
    if (auto d = duplicates_.find(n); d != duplicates_.end())
      throw data_error(name_, d->second.first, d->second.second,
                       "duplicate column name '" + std::string(n) + "' in header");
    return it->second;
  }
  /// Bytes of the body: the records after the header line, trailing blank lines excluded.
  std::size_t body_size() const noexcept {
    return static_cast<std::size_t>(body_end_ - body_begin_);
  }
  /// The body's bytes (see body_size).
  std::string_view body() const noexcept { return {body_begin_, body_size()}; }
  /// 1-based line where the first body record starts (2 unless the header holds quoted newlines).
  std::size_t body_first_line() const noexcept { return body_line_; }

  /// Splits the body into at most `n` (0 counts as 1) chunks of about equal size, each starting
  /// at a record boundary, in file order, covering the body exactly. Boundaries are found from
  /// the parity of the quotes before each newline, so quoted fields holding newlines never get
  /// cut: reading every chunk gives exactly the records of reading the whole body as one chunk.
  /// Fewer chunks come back when records are larger than body_size()/n; an empty body gives one
  /// empty chunk. On a malformed file, reading chunks in order throws, in the first chunk that
  /// throws, the same error as reading one chunk; later chunks may throw other errors, so a
  /// caller that reads chunks in parallel must report the error of the lowest-numbered chunk.
  /// Cost: one parallel pass (oneTBB) over the body counting quotes and newlines.
  std::vector<csv_chunk> split(std::size_t n) const;
  /// Splits `range`, a run of whole records of this file (it starts at a record boundary, at
  /// line `range.first_line`), as split(n) splits the body. Cost: one pass over the range.
  std::vector<csv_chunk> split(const csv_chunk& range, std::size_t n) const;

  /// Offset in text() of the first invalid UTF-8 sequence that starts in [from, to), or npos;
  /// ranges taken in order give the answer for the whole text. O(to - from).
  std::size_t first_invalid_utf8(std::size_t from, std::size_t to) const noexcept;
  /// The error open reports for the invalid UTF-8 byte at `offset` of text(): "invalid UTF-8
  /// byte 0xXX" at its line and column. O(offset).
  data_error utf8_error(std::size_t offset) const;

 private:
  friend class csv_record_reader;
  csv_file() = default;
  static csv_file open(const std::string& path, bool lean, bool check_body, std::size_t piece);
  void init();
  [[noreturn]] void throw_changed() const {
    throw data_error(name_, 0, 0,
                     "file changed while it was being loaded (it shrank or was rewritten); "
                     "load again once it is complete");
  }
  /// Whether scans read copies of the text (copy_range) instead of its mapped pages.
  bool scans_copies() const noexcept { return lean_ && data_->map.ok(); }
  /// Bytes [from, to) of the mapped text, copied into `buf` (pread). Throws as copy_chunk.
  const char* copy_range(std::size_t from, std::size_t to, chunk_buffer& buf) const {
    char* out = buf.reserve(to - from);
    if (!data_->map.read(from, to - from, out)) throw_changed();
    return out;
  }

  /// The file's bytes: a read-only mapping of a regular file, or a heap string (from_string,
  /// pipes). Held behind a pointer so that moves keep every view valid.
  struct bytes {
    std::string text;
    mapped_file map;
    bytes() = default;
    bytes(const bytes&) = delete;
    bytes& operator=(const bytes&) = delete;
    const char* data() const noexcept { return map.ok() ? map.data() : text.data(); }
    std::size_t size() const noexcept { return map.ok() ? map.size() : text.size(); }
  };
  std::unique_ptr<bytes> data_;
  std::string name_;
  std::vector<std::string> header_;
  // Views into header_'s strings (their buffers stay put when the vector moves).
  std::unordered_map<std::string_view, std::size_t> columns_;  // first index
  std::unordered_map<std::string_view, std::pair<std::size_t, std::size_t>>
      duplicates_;  // line, col
  const char* body_begin_ = nullptr;
  const char* body_end_ = nullptr;  // end of the text without trailing blank lines
  std::size_t body_line_ = 2;
  bool lean_ = false;       // open_lean: scans read copies, not the mapped pages
  std::size_t piece_ = 1;   // open_lean: bytes per copied piece of a scan
  bool check_body_ = true;  // false: open checked the header's UTF-8 only
};

/// Reads the records of one chunk of a csv_file. Keeps its buffers between records; one per chunk
/// and thread (not thread-safe). The csv_file must outlive it and stay in place.
class csv_record_reader {
 public:
  /// A reader of chunk `c` of `f`, checking that every record has `f.header().size()` fields.
  csv_record_reader(const csv_file& f, const csv_chunk& c) noexcept
      : csv_record_reader(f, c.begin, c.end, c.first_line, f.header().size()) {
    if (c.limit) limit_ = c.limit;
  }

  /// Reads the next record into `fields` (cleared first): one view per field, unescaped
  /// (`""` becomes `"`), empty for an empty field. A view points into the file, or, for a field
  /// holding `""`, into this reader's buffer: valid until the next call of next() or the end of
  /// the reader. Returns false at the end of the chunk. Cost: O(record bytes); a line without
  /// quotes is scanned 16 bytes a step (SSE2; 8 with the portable fallback). Throws
  /// data_error(file, line, column, message), after which the reader must not be used again:
  /// "unterminated quoted field" (at the opening quote), "quote inside unquoted field", "unexpected
  /// character after closing quote", and "expected N fields, found M" (at the first extra field, or
  /// at the end of a record that is short).
  bool next(std::vector<std::string_view>& fields);

  /// 1-based line where the last record read starts.
  std::size_t line() const noexcept { return line_; }
  /// The last record's bytes as written in the file, without its line end. O(1).
  std::string_view record() const noexcept {
    return {rec_begin_, static_cast<std::size_t>(rec_end_ - rec_begin_)};
  }
  /// 1-based byte column where field `i` of the last record starts, within the line where it
  /// starts (see field_line); 0 when there is no such field. O(1) when the record is one line,
  /// else O(record bytes).
  std::size_t column(std::size_t i) const noexcept {
    return i < starts_.size() ? locate(starts_[i]).second : 0;
  }
  /// 1-based line where field `i` of the last record starts: line() unless an earlier quoted
  /// field of the record holds a newline; 0 when there is no such field. Cost as column().
  std::size_t field_line(std::size_t i) const noexcept {
    return i < starts_.size() ? locate(starts_[i]).first : 0;
  }

 private:
  friend class csv_file;
  csv_record_reader(const csv_file& f, const char* begin, const char* end, std::size_t first_line,
                    std::size_t expected) noexcept
      : file_(&f),
        pos_(begin),
        end_(end),
        limit_(f.body_end_),
        next_line_(first_line),
        expected_(expected) {}

  bool read_plain_record(std::vector<std::string_view>& fields);
  void read_quoted_record(std::vector<std::string_view>& fields);
  std::pair<std::size_t, std::size_t> locate(const char* at) const noexcept;
  [[noreturn]] void fail(const char* at, const std::string& message) const;
  [[noreturn]] void count_error(std::size_t found) const;

  struct escaped_field {
    std::size_t index, offset, size;  // field index; its bytes in buf_
  };

  const csv_file* file_;
  const char* pos_;    // start of the next record
  const char* end_;    // end of the chunk: no record starts at or after it
  const char* limit_;  // end of the body: bounds every scan, even of a malformed chunk
  const char* rec_begin_ = nullptr;  // start of the last record (a line start)
  const char* rec_end_ = nullptr;    // end of the last record's content (before its line end)
  std::size_t line_ = 0;
  std::size_t next_line_;
  bool one_line_ = false;            // the last record was read completely and holds no newline
  std::size_t expected_;             // fields per record; 0: any (the header)
  std::vector<const char*> starts_;  // where each field of the last record starts
  std::string buf_;                  // unescaped fields of the last record
  std::vector<escaped_field> escaped_;
};

// --- csv_record_reader ---------------------------------------------------------------------

inline bool csv_record_reader::next(std::vector<std::string_view>& fields) {
  if (pos_ >= end_) return false;
  fields.clear();
  starts_.clear();
  rec_begin_ = pos_;
  line_ = next_line_;
  one_line_ = false;
  if (!read_plain_record(fields)) {
    fields.clear();
    starts_.clear();
    read_quoted_record(fields);
  }
  if (expected_ != 0 && fields.size() != expected_) count_error(fields.size());
  return true;
}

inline bool csv_record_reader::read_plain_record(std::vector<std::string_view>& fields) {
  // A block of bytes at a time: bit masks of the commas, quotes and newlines of each block.
  using scanner = detail::csv_scanner;
  const char* p = rec_begin_;
  const char* field = p;
  starts_.push_back(field);
  const char* nl = nullptr;
  while (static_cast<std::size_t>(limit_ - p) >= scanner::width) {
    const detail::csv_masks m = scanner::scan(p);
    const std::uint64_t newlines = m.newlines;
    std::uint64_t quotes = m.quotes;
    std::uint64_t commas = m.commas;
    if (newlines != 0) {
      const std::uint64_t before = (newlines & (~newlines + 1)) - 1;  // bytes before the first
      quotes &= before;
      commas &= before;
    }
    if (quotes != 0) return false;
    for (; commas != 0; commas &= commas - 1) {
      const char* c = p + (std::countr_zero(commas) >> scanner::shift);
      fields.emplace_back(field, static_cast<std::size_t>(c - field));
      field = c + 1;
      starts_.push_back(field);
    }
    if (newlines != 0) {
      nl = p + (std::countr_zero(newlines) >> scanner::shift);
      break;
    }
    p += scanner::width;
  }
  if (nl == nullptr) {
    for (; p < limit_; ++p) {
      const char c = *p;
      if (c == '"') return false;
      if (c == '\n') {
        nl = p;
        break;
      }
      if (c == ',') {
        fields.emplace_back(field, static_cast<std::size_t>(p - field));
        field = p + 1;
        starts_.push_back(field);
      }
    }
  }
  const char* content_end = nl == nullptr ? limit_ : nl > field && nl[-1] == '\r' ? nl - 1 : nl;
  fields.emplace_back(field, static_cast<std::size_t>(content_end - field));
  rec_end_ = content_end;
  pos_ = nl == nullptr ? limit_ : nl + 1;
  next_line_ = line_ + 1;
  one_line_ = true;
  return true;
}

inline void csv_record_reader::read_quoted_record(std::vector<std::string_view>& fields) {
  buf_.clear();
  escaped_.clear();
  std::size_t extra_lines = 0;  // newlines inside quoted fields
  const char* p = rec_begin_;
  for (;;) {  // one field per iteration
    starts_.push_back(p);
    if (p < limit_ && *p == '"') {
      const char* open = p;
      const char* s = p + 1;
      bool escaped = false;
      const std::size_t offset = buf_.size();
      for (;;) {
        const char* q =
            static_cast<const char*>(std::memchr(s, '"', static_cast<std::size_t>(limit_ - s)));
        if (q == nullptr) fail(open, "unterminated quoted field");
        extra_lines += static_cast<std::size_t>(std::count(s, q, '\n'));
        if (q + 1 < limit_ && q[1] == '"') {  // `""`: keep one quote
          escaped = true;
          buf_.append(s, static_cast<std::size_t>(q + 1 - s));
          s = q + 2;
          continue;
        }
        if (escaped) {
          buf_.append(s, static_cast<std::size_t>(q - s));
          escaped_.push_back({fields.size(), offset, buf_.size() - offset});
          fields.emplace_back();  // set below, once buf_ stops growing
        } else {
          fields.emplace_back(s, static_cast<std::size_t>(q - s));
        }
        p = q + 1;
        break;
      }
      if (p == limit_) {
        rec_end_ = p;
        pos_ = limit_;
        break;
      }
      if (*p == ',') {
        ++p;
        continue;
      }
      if (*p == '\n') {
        rec_end_ = p;
        pos_ = p + 1;
        break;
      }
      if (*p == '\r' && p + 1 < limit_ && p[1] == '\n') {
        rec_end_ = p;
        pos_ = p + 2;
        break;
      }
      fail(p, "unexpected character after closing quote");
    } else {
      const char* s = p;
      while (p < limit_ && *p != ',' && *p != '\n' && *p != '"') ++p;
      if (p < limit_ && *p == '"') fail(p, "quote inside unquoted field");
      const char* fe = p < limit_ && *p == '\n' && p > s && p[-1] == '\r' ? p - 1 : p;
      fields.emplace_back(s, static_cast<std::size_t>(fe - s));
      if (p < limit_ && *p == ',') {
        ++p;
        continue;
      }
      rec_end_ = fe;
      pos_ = p < limit_ ? p + 1 : limit_;
      break;
    }
  }
  for (const escaped_field& e : escaped_) fields[e.index] = {buf_.data() + e.offset, e.size};
  next_line_ = line_ + 1 + extra_lines;
  one_line_ = extra_lines == 0;
}

inline std::pair<std::size_t, std::size_t> csv_record_reader::locate(
    const char* at) const noexcept {
  if (one_line_) return {line_, static_cast<std::size_t>(at - rec_begin_) + 1};
  std::size_t line = line_;
  const char* line_start = rec_begin_;
  for (const char* p = rec_begin_; p < at; ++p)
    if (*p == '\n') {
      ++line;
      line_start = p + 1;
    }
  return {line, static_cast<std::size_t>(at - line_start) + 1};
}

inline void csv_record_reader::fail(const char* at, const std::string& message) const {
  const auto [line, column] = locate(at);
  throw data_error(file_->name(), line, column, message);
}

inline void csv_record_reader::count_error(std::size_t found) const {
  const char* at = found > expected_ ? starts_[expected_] : rec_end_;
  fail(at, "expected " + std::to_string(expected_) + (expected_ == 1 ? " field" : " fields") +
               ", found " + std::to_string(found));
}

// --- csv_file ------------------------------------------------------------------------------

inline csv_file csv_file::open(const std::string& path) {
  return open(path, false, true, 1);
}

inline csv_file csv_file::open_lean(const std::string& path, bool check_body, std::size_t piece) {
  return open(path, true, check_body, std::max<std::size_t>(piece, 1));
}

inline csv_file csv_file::open(const std::string& path, bool lean, bool check_body,
                               std::size_t piece) {
  auto fail = [&path](const char* what, int err) {
    throw data_error(path, 0, 0, what + std::generic_category().message(err));
  };
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) fail("cannot open: ", errno);
  struct closer {
    int fd;
    ~closer() { ::close(fd); }
  } close_on_exit{fd};
  struct stat st {};
  if (::fstat(fd, &st) != 0) fail("cannot open: ", errno);
  if (S_ISDIR(st.st_mode)) fail("cannot open: ", EISDIR);

  auto bytes = std::make_unique<csv_file::bytes>();
  // Regular files are mapped read-only (no zero-fill, no copy; pages come from the page cache).
  // A file that shrinks or changes while it is loaded is reported by changed(), not a crash.
  if (S_ISREG(st.st_mode) && st.st_size > 0) bytes->map = mapped_file(fd, st, !lean);
  if (!bytes->map.ok()) {
    // Others (pipes, /proc, a failed mapping): read in growing steps.
    std::string* text = &bytes->text;
    text->resize(S_ISREG(st.st_mode) && st.st_size > 0 ? static_cast<std::size_t>(st.st_size)
                                                       : std::size_t{1} << 16);
    std::size_t got = 0;
    for (;;) {
      if (got == text->size()) {
        char probe[4096];
        const ssize_t r = ::read(fd, probe, sizeof probe);
        if (r < 0) {
          if (errno == EINTR) continue;
          fail("cannot read: ", errno);
        }
        if (r == 0) break;
        text->resize(std::max(text->size() * 2, got + static_cast<std::size_t>(r)));
        std::memcpy(text->data() + got, probe, static_cast<std::size_t>(r));
        got += static_cast<std::size_t>(r);
        continue;
      }
      const ssize_t r = ::read(fd, text->data() + got, text->size() - got);
      if (r < 0) {
        if (errno == EINTR) continue;
        fail("cannot read: ", errno);
      }
      if (r == 0) break;
      got += static_cast<std::size_t>(r);
    }
    text->resize(got);
  }

  csv_file f;
  f.data_ = std::move(bytes);
  f.name_ = path;
  f.lean_ = lean;
  f.piece_ = piece;
  f.check_body_ = check_body;
  try {
    f.init();
  } catch (const data_error&) {
    f.throw_if_changed();  // the error came from bytes that vanished under the reader
    throw;
  }
  return f;
}

inline csv_file csv_file::from_string(std::string text, std::string name) {
  csv_file f;
  f.data_ = std::make_unique<csv_file::bytes>();
  f.data_->text = std::move(text);
  f.name_ = std::move(name);
  f.init();
  return f;
}

inline void csv_file::init() {
  const char* data = data_->data();
  const std::size_t size = data_->size();
  const char* b = data;
  const char* e = data + size;
  if (size >= 3 && std::memcmp(data, "\xEF\xBB\xBF", 3) == 0) b += 3;
  while (e > b && (e[-1] == '\n' || e[-1] == '\r')) --e;
  if (b == e) throw data_error(name_, 0, 0, "file is empty");

  // The whole text's UTF-8; for open_lean, from copies of its pieces, each with the byte before
  // it (so that utf8_check knows it is not the text's start) and the 4 after it (a character
  // starting in the piece ends there), which give the answer of the whole text.
  auto check_all = [&] {
    if (!scans_copies()) return detail::utf8_first_error(data, size);
    std::atomic<std::size_t> first{detail::npos};
    tbb::enumerable_thread_specific<chunk_buffer> buffers;
    b2bseg::detail::parallel_for(
        tbb::blocked_range<std::size_t>(0, (size + piece_ - 1) / piece_, 1),
        [&](const tbb::blocked_range<std::size_t>& r) {
          chunk_buffer& buf = buffers.local();
          for (std::size_t k = r.begin(); k < r.end(); ++k) {
            const std::size_t w = k * piece_;
            if (w >= first.load(std::memory_order_relaxed)) return;
            const std::size_t lo = w == 0 ? 0 : w - 1;
            const std::size_t hi = std::min(size, w + piece_ + 4);
            const auto* c = reinterpret_cast<const unsigned char*>(copy_range(lo, hi, buf));
            const std::size_t at =
                detail::utf8_check(c, hi - lo, w - lo, std::min(size, w + piece_) - lo);
            if (at != detail::npos) detail::lower_to(first, at + lo);
          }
        });
    return first.load();
  };
  if (check_body_)
    if (const std::size_t bad = check_all(); bad != detail::npos) throw utf8_error(bad);

  try {
    // Old Mac files end lines with CR alone: the whole file would read as one header line, and
    // the error would be a confusing "column ... missing". Say what it is. (The search for a
    // newline comes first: it stops at the first line's end.)
    if (std::memchr(b, '\n', static_cast<std::size_t>(e - b)) == nullptr)
      if (const void* cr = std::memchr(b, '\r', static_cast<std::size_t>(e - b)); cr != nullptr)
        throw data_error(name_, 1, static_cast<std::size_t>(static_cast<const char*>(cr) - b) + 1,
                         "lines end with CR alone (old Mac line ends); save the file with LF or "
                         "CRLF line ends");

    body_end_ = e;
    csv_record_reader r(*this, b, e, 1, 0);
    std::vector<std::string_view> names;
    r.next(names);  // the text is not empty, so there is a first record
    header_.assign(names.begin(), names.end());
    columns_.reserve(header_.size());
    for (std::size_t i = 0; i < header_.size(); ++i) {
      if (header_[i].empty()) r.fail(r.starts_[i], "empty column name in header");
      if (!columns_.emplace(header_[i], i).second && !duplicates_.count(header_[i])) {
        const auto [line, column] = r.locate(r.starts_[i]);
        duplicates_.emplace(header_[i], std::make_pair(line, column));
      }
    }
    body_begin_ = std::min(r.pos_, e);
    body_line_ = r.next_line_;
  } catch (const data_error&) {
    // open checks the whole text first: an invalid byte anywhere is the error it reports.
    if (!check_body_)
      if (const std::size_t bad = check_all(); bad != detail::npos) throw utf8_error(bad);
    throw;
  }
  if (!check_body_) {
    const auto header_end = static_cast<std::size_t>(body_begin_ - data);
    if (const std::size_t bad = detail::utf8_first_error_in(data, size, 0, header_end);
        bad < header_end)
      throw utf8_error(bad);
  }
}

inline std::size_t csv_file::first_invalid_utf8(std::size_t from, std::size_t to) const noexcept {
  return detail::utf8_first_error_in(data_->data(), data_->size(), from, to);
}

inline data_error csv_file::utf8_error(std::size_t offset) const {
  const char* data = data_->data();
  const char* b = data;
  if (data_->size() >= 3 && std::memcmp(data, "\xEF\xBB\xBF", 3) == 0) b += 3;
  const char* at = data + offset;
  std::size_t line = 1;
  const char* line_start = b;
  for (const char* p = b; p < at; ++p)
    if (*p == '\n') {
      ++line;
      line_start = p + 1;
    }
  static constexpr char hex[] = "0123456789abcdef";
  const auto byte = static_cast<unsigned char>(*at);
  return data_error(name_, line, static_cast<std::size_t>(at - line_start) + 1,
                    std::string("invalid UTF-8 byte 0x") + hex[byte >> 4] + hex[byte & 15]);
}

inline std::vector<csv_chunk> csv_file::split(std::size_t n) const {
  return split(csv_chunk{body_begin_, body_end_, body_line_}, n);
}

inline std::vector<csv_chunk> csv_file::split(const csv_chunk& range, std::size_t n) const {
  const char* b = range.begin;
  const std::size_t size = static_cast<std::size_t>(range.end - range.begin);
  const std::size_t first_line = range.first_line;
  if (n == 0) n = 1;
  if (size == 0) return {csv_chunk{b, b, first_line}};
  n = std::min(n, size);
  auto seg_begin = [&](std::size_t i) { return b + size / n * i + std::min(i, size % n); };

  // 1. Quotes and newlines in each segment, in parallel.
  std::vector<std::size_t> quotes(n, 0), newlines(n, 0);
  tbb::enumerable_thread_specific<chunk_buffer> buffers;  // for scans_copies()
  auto count = [&](std::size_t i) {
    if (!scans_copies())
      return detail::count_quotes_and_newlines(seg_begin(i), seg_begin(i + 1), quotes[i],
                                               newlines[i]);
    chunk_buffer& buf = buffers.local();
    const auto from = static_cast<std::size_t>(seg_begin(i) - data_->data());
    const auto to = static_cast<std::size_t>(seg_begin(i + 1) - data_->data());
    for (std::size_t p = from; p < to; p += std::min(piece_, to - p)) {
      const std::size_t q = p + std::min(piece_, to - p);
      const char* c = copy_range(p, q, buf);
      detail::count_quotes_and_newlines(c, c + (q - p), quotes[i], newlines[i]);
    }
  };
  // 2. Prefix sums: quote parity and line number at the start of each segment.
  std::vector<unsigned char> odd(n, 0);
  std::vector<std::size_t> line(n, first_line);
  // 3. In each segment i > 0, the first newline x with seg_begin(i) <= x + 1 < seg_begin(i + 1)
  //    preceded by an even number of quotes: x + 1 is a record boundary. Searching only inside
  //    the segment keeps the total work linear; a segment without one merges into the previous
  //    chunk.
  std::vector<const char*> cut(n, nullptr);
  std::vector<std::size_t> cut_line(n, 0);
  auto find = [&](std::size_t i) {
    const char* sb = seg_begin(i);
    const char* last = seg_begin(i + 1) - 1;  // x < last
    bool parity = odd[i] != 0;
    std::size_t lines = line[i];
    const char* from = sb - 1;  // sb > b, as i > 0
    const char* counted = sb;   // quotes in [sb, counted) are in `parity`
    while (from < last) {
      const char* x =
          static_cast<const char*>(std::memchr(from, '\n', static_cast<std::size_t>(last - from)));
      if (x == nullptr) return;
      if (x >= sb) {
        std::size_t q = 0, unused = 0;
        detail::count_quotes_and_newlines(counted, x, q, unused);
        parity ^= (q & 1) != 0;
        counted = x;
        ++lines;
      }
      if (!parity) {
        cut[i] = x + 1;
        cut_line[i] = lines;
        return;
      }
      from = x + 1;
    }
  };
  constexpr std::size_t parallel_threshold = std::size_t{1} << 18;
  if (size < parallel_threshold) {
    for (std::size_t i = 0; i < n; ++i) count(i);
  } else {
    b2bseg::detail::parallel_for(std::size_t{0}, n, count);
  }
  for (std::size_t i = 1; i < n; ++i) {
    odd[i] = static_cast<unsigned char>(odd[i - 1] ^ (quotes[i - 1] & 1));
    line[i] = line[i - 1] + newlines[i - 1];
  }
  if (size < parallel_threshold) {
    for (std::size_t i = 1; i < n; ++i) find(i);
  } else {
    b2bseg::detail::parallel_for(std::size_t{1}, n, find);
  }

  std::vector<csv_chunk> chunks;
  chunks.push_back({b, nullptr, first_line});
  for (std::size_t i = 1; i < n; ++i) {
    if (cut[i] == nullptr) continue;
    chunks.back().end = cut[i];
    chunks.push_back({cut[i], nullptr, cut_line[i]});
  }
  chunks.back().end = range.end;
  return chunks;
}

}  // namespace b2bseg
