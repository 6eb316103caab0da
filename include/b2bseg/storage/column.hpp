// One attribute column of an entity: typed values, a null bitmap and the indexes predicates use.
#pragma once

#include <roaring/roaring.hh>

#include <algorithm>
#include <cassert>
#include <cstdint>
#include <cstring>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

#include "b2bseg/common/types.hpp"
#include "b2bseg/storage/pod_array.hpp"

namespace b2bseg {

/// Dense row number within an entity. `no_row` marks an unset link.
using row_id = std::uint32_t;
inline constexpr row_id no_row = ~row_id{0};

/// An immutable string dictionary, sorted by bytes (memcmp order), so that code order is value
/// order: range comparisons on strings become code ranges. Owns its characters.
class string_dictionary {
 public:
  string_dictionary() : offsets_(std::vector<std::uint32_t>{0}) {}
  /// Builds from values that must be sorted and distinct (checked by `validate()`).
  /// Throws std::length_error when the values hold 4 GiB of characters or more.
  explicit string_dictionary(const std::vector<std::string_view>& sorted_values) {
    std::size_t total = 0;
    for (auto v : sorted_values) total += v.size();
    if (total >= 0xFFFFFFFFu) throw std::length_error("string dictionary over 4 GiB");
    std::vector<char> chars;
    std::vector<std::uint32_t> offsets;
    chars.reserve(total);
    offsets.reserve(sorted_values.size() + 1);
    offsets.push_back(0);
    for (auto v : sorted_values) {
      chars.insert(chars.end(), v.begin(), v.end());
      offsets.push_back(static_cast<std::uint32_t>(chars.size()));
    }
    chars_ = std::move(chars);
    offsets_ = std::move(offsets);
  }
  /// From its parts (a snapshot): `offsets` has size() + 1 entries, non-decreasing, the last
  /// at most `chars.size()` (checked by the snapshot reader).
  string_dictionary(pod_array<char> chars, pod_array<std::uint32_t> offsets) noexcept
      : chars_(std::move(chars)), offsets_(std::move(offsets)) {}
  std::size_t size() const noexcept { return offsets_.size() - 1; }
  std::string_view operator[](std::uint32_t code) const noexcept {
    return {chars_.data() + offsets_[code], offsets_[code + 1] - offsets_[code]};
  }
  /// Code of `v`, or -1. O(log size).
  std::int64_t find(std::string_view v) const noexcept {
    std::size_t lo = lower_bound(v);
    return lo < size() && (*this)[static_cast<std::uint32_t>(lo)] == v ? std::int64_t(lo) : -1;
  }
  /// First code whose value is >= v (size() if none). O(log size).
  std::size_t lower_bound(std::string_view v) const noexcept {
    std::size_t lo = 0, hi = size();
    while (lo < hi) {
      std::size_t mid = (lo + hi) / 2;
      if ((*this)[static_cast<std::uint32_t>(mid)] < v)
        lo = mid + 1;
      else
        hi = mid;
    }
    return lo;
  }
  /// First code whose value is > v. O(log size).
  std::size_t upper_bound(std::string_view v) const noexcept {
    std::size_t lo = 0, hi = size();
    while (lo < hi) {
      std::size_t mid = (lo + hi) / 2;
      if (!(v < (*this)[static_cast<std::uint32_t>(mid)]))
        lo = mid + 1;
      else
        hi = mid;
    }
    return lo;
  }
  std::size_t memory_bytes() const noexcept {
    return chars_.memory_bytes() + offsets_.memory_bytes();
  }
  /// The characters of all values, back to back, and the offsets of each value's first one.
  const pod_array<char>& chars() const noexcept { return chars_; }
  const pod_array<std::uint32_t>& offsets() const noexcept { return offsets_; }
  /// Throws std::logic_error unless values are strictly increasing.
  void validate() const {
    for (std::size_t i = 1; i < size(); ++i)
      if (!((*this)[std::uint32_t(i - 1)] < (*this)[std::uint32_t(i)]))
        throw std::logic_error("string dictionary not strictly sorted");
  }

 private:
  pod_array<char> chars_;
  pod_array<std::uint32_t> offsets_;
};

/// The 24-bit little-endian value at p (a code of a 3-byte code_array).
inline std::uint32_t load_u24(const std::uint8_t* p) noexcept {
  return std::uint32_t(p[0]) | std::uint32_t(p[1]) << 8 | std::uint32_t(p[2]) << 16;
}

/// Dictionary codes of one string column, stored 1, 2, 3 or 4 bytes wide depending on the
/// dictionary size, to keep memory per row low (3 bytes hold the nearly unique columns of up to
/// 16M values, such as a million emails, a byte per row below 4).
class code_array {
 public:
  code_array() = default;
  code_array(std::size_t n, std::size_t dictionary_size)
      : width_(dictionary_size <= 0x100       ? 1
               : dictionary_size <= 0x10000   ? 2
               : dictionary_size <= 0x1000000 ? 3
                                              : 4),
        bytes_(std::vector<std::uint8_t>(n * width_)) {}
  /// From its parts (a snapshot): `width` is 1, 2, 3 or 4 and divides `bytes.size()`.
  code_array(unsigned width, pod_array<std::uint8_t> bytes) noexcept
      : width_(width), bytes_(std::move(bytes)) {}
  std::size_t size() const noexcept { return width_ ? bytes_.size() / width_ : 0; }
  unsigned width() const noexcept { return width_; }
  std::uint32_t operator[](std::size_t i) const noexcept {
    switch (width_) {
      case 1:
        return bytes_[i];
      case 2: {
        std::uint16_t v;
        std::memcpy(&v, &bytes_[i * 2], 2);
        return v;
      }
      case 3:
        return load_u24(bytes_.data() + i * 3);
      default: {
        std::uint32_t v;
        std::memcpy(&v, &bytes_[i * 4], 4);
        return v;
      }
    }
  }
  /// Sets row i's code; only on an array built by the (n, dictionary_size) constructor.
  void set(std::size_t i, std::uint32_t code) noexcept {
    std::uint8_t* b = bytes_.mutable_data();
    switch (width_) {
      case 1:
        b[i] = static_cast<std::uint8_t>(code);
        break;
      case 2: {
        auto v = static_cast<std::uint16_t>(code);
        std::memcpy(b + i * 2, &v, 2);
        break;
      }
      case 3:
        b[i * 3] = static_cast<std::uint8_t>(code);
        b[i * 3 + 1] = static_cast<std::uint8_t>(code >> 8);
        b[i * 3 + 2] = static_cast<std::uint8_t>(code >> 16);
        break;
      default:
        std::memcpy(b + i * 4, &code, 4);
    }
  }
  /// Calls f(i, code) for i in [begin, end) with the width resolved once (hot loops).
  template <class F>
  void for_range(std::size_t begin, std::size_t end, F&& f) const {
    switch (width_) {
      case 1:
        for (std::size_t i = begin; i < end; ++i) f(i, std::uint32_t(bytes_[i]));
        break;
      case 2: {
        const auto* p = reinterpret_cast<const std::uint8_t*>(bytes_.data());
        for (std::size_t i = begin; i < end; ++i) {
          std::uint16_t v;
          std::memcpy(&v, p + 2 * i, 2);
          f(i, std::uint32_t(v));
        }
        break;
      }
      case 3: {
        const auto* p = reinterpret_cast<const std::uint8_t*>(bytes_.data());
        for (std::size_t i = begin; i < end; ++i) f(i, load_u24(p + 3 * i));
        break;
      }
      default: {
        const auto* p = reinterpret_cast<const std::uint8_t*>(bytes_.data());
        for (std::size_t i = begin; i < end; ++i) {
          std::uint32_t v;
          std::memcpy(&v, p + 4 * i, 4);
          f(i, v);
        }
      }
    }
  }
  std::size_t memory_bytes() const noexcept { return bytes_.memory_bytes(); }
  /// The codes as bytes, `width()` bytes per row, little-endian.
  const pod_array<std::uint8_t>& bytes() const noexcept { return bytes_; }

 private:
  unsigned width_ = 4;
  pod_array<std::uint8_t> bytes_;
};

/// The int and timestamp values of one column, stored as narrow as they allow (frame of reference):
/// value = base + scale * stored, where stored is an unsigned 1, 2 or 4-byte integer and scale the
/// largest of 1, 1000, 10^6, 6*10^7, 3.6*10^9, 8.64*10^10 dividing every value's distance from
/// base (timestamps are microseconds: whole seconds, minutes or days need no more bytes than they
/// span). Values whose stored form needs more than 4 bytes are kept as plain int64 (width 8, base
/// 0, scale 1). Null rows store 0 (their value is meaningless). Kernels scan the stored integers
/// (`with_stored`) after translating their constants, so a narrow column scans faster too.
class int_array {
 public:
  int_array() = default;
  /// Encodes `values`, ignoring the rows in `null_rows`, which store 0. O(n).
  int_array(std::vector<std::int64_t> values, const std::vector<std::uint32_t>& null_rows) {
    const std::size_t n = values.size();
    // Null rows take the minimum of the others: distance 0, so stored 0 under every frame.
    std::vector<std::uint8_t> null(n, 0);
    for (auto r : null_rows) null[r] = 1;
    bool any = false;
    std::int64_t lo = 0, hi = 0;
    for (std::size_t i = 0; i < n; ++i) {
      if (null[i]) continue;
      if (!any || values[i] < lo) lo = values[i];
      if (!any || values[i] > hi) hi = values[i];
      any = true;
    }
    for (auto r : null_rows) values[r] = lo;
    auto distance = [&](std::size_t i) { return std::uint64_t(values[i]) - std::uint64_t(lo); };
    static constexpr std::uint64_t scales[] = {86'400'000'000, 3'600'000'000, 60'000'000,
                                               1'000'000,      1'000,         1};
    std::uint64_t scale = 1;
    for (std::uint64_t s : scales) {
      std::size_t i = 0;
      while (i < n && distance(i) % s == 0) ++i;
      if (i == n) {
        scale = s;
        break;
      }
    }
    const std::uint64_t span = (std::uint64_t(hi) - std::uint64_t(lo)) / scale;
    width_ = span <= 0xFF ? 1 : span <= 0xFFFF ? 2 : span <= 0xFFFF'FFFF ? 4 : 8;
    if (width_ == 8) {  // plain int64: base 0, scale 1, nulls 0
      for (auto r : null_rows) values[r] = 0;
      std::vector<std::uint8_t> bytes(n * 8);
      std::memcpy(bytes.data(), values.data(), n * 8);
      bytes_ = std::move(bytes);
      return;
    }
    base_ = lo;
    scale_ = static_cast<std::int64_t>(scale);
    std::vector<std::uint8_t> bytes(n * width_);
    for (std::size_t i = 0; i < n; ++i) {
      const auto u = static_cast<std::uint32_t>(distance(i) / scale);
      std::uint8_t* out = bytes.data() + i * width_;  // native order, as with_stored reads it
      if (width_ == 1) {
        *out = static_cast<std::uint8_t>(u);
      } else if (width_ == 2) {
        const auto v = static_cast<std::uint16_t>(u);
        std::memcpy(out, &v, 2);
      } else {
        std::memcpy(out, &u, 4);
      }
    }
    bytes_ = std::move(bytes);
  }
  /// From its parts (a snapshot): width 1, 2, 4 or 8 dividing `bytes.size()`, scale >= 1, and for
  /// width 8 base 0 and scale 1 (checked by the snapshot reader, with every value's range).
  int_array(unsigned width, std::int64_t base, std::int64_t scale,
            pod_array<std::uint8_t> bytes) noexcept
      : width_(width), base_(base), scale_(scale), bytes_(std::move(bytes)) {}

  std::size_t size() const noexcept { return width_ ? bytes_.size() / width_ : 0; }
  /// Bytes per stored value: 1, 2, 4 or 8 (plain int64).
  unsigned width() const noexcept { return width_; }
  std::int64_t base() const noexcept { return base_; }
  std::int64_t scale() const noexcept { return scale_; }
  /// The value a stored integer stands for (modular arithmetic: exact for every valid array).
  std::int64_t decode(std::uint64_t stored) const noexcept {
    return static_cast<std::int64_t>(std::uint64_t(base_) + std::uint64_t(scale_) * stored);
  }
  template <class T>
  std::int64_t decode(T stored) const noexcept requires std::is_signed_v<T> {
    return stored;  // width 8: the value itself
  }
  /// Calls f(p) with p the stored values as `const std::uint8_t*`, `const std::uint16_t*`,
  /// `const std::uint32_t*` or (width 8) `const std::int64_t*`, and returns what f returns.
  /// Sections of a snapshot are 64-byte aligned, and vectors of bytes are 16-byte aligned, so
  /// each pointer is aligned for its type.
  template <class F>
  decltype(auto) with_stored(F&& f) const {
    const std::uint8_t* b = bytes_.data();
    switch (width_) {
      case 1:
        return f(b);
      case 2:
        return f(reinterpret_cast<const std::uint16_t*>(b));
      case 4:
        return f(reinterpret_cast<const std::uint32_t*>(b));
      default:
        return f(reinterpret_cast<const std::int64_t*>(b));
    }
  }
  /// The value of row i. O(1) (a switch on the width: hot loops use `with_stored`).
  std::int64_t operator[](std::size_t i) const noexcept {
    return with_stored([&](const auto* p) { return decode(p[i]); });
  }
  std::size_t memory_bytes() const noexcept { return bytes_.memory_bytes(); }
  /// The stored values as bytes, `width()` per row, in the machine's byte order.
  const pod_array<std::uint8_t>& bytes() const noexcept { return bytes_; }

 private:
  unsigned width_ = 8;
  std::int64_t base_ = 0;
  std::int64_t scale_ = 1;
  pod_array<std::uint8_t> bytes_;
};

/// One attribute column: values by row, a null bitmap, and per-type indexes.
///
/// - int, timestamp: an `int_array` (narrow, frame of reference); float: `double` values (0 where
///   null).
/// - bool: a bitmap of rows that are true.
/// - string: a sorted dictionary, a code per row, and, unless the column is nearly unique, one
///   Roaring bitmap per distinct value.
/// - string[]: a sorted dictionary, per-row offsets into a code list, and one bitmap per value
///   holding the rows whose list contains it. An empty list is null.
///
/// Built by the loader (`detail::column_builder`); immutable afterwards, so it can be read from any
/// number of threads.
class column {
 public:
  column() = default;
  explicit column(value_type t) : type_(t) {}

  value_type type() const noexcept { return type_; }
  std::size_t size() const noexcept { return size_; }

  /// Rows where the value is null. O(1).
  const Roaring& nulls() const noexcept { return nulls_; }
  /// O(log containers).
  bool is_null(row_id r) const noexcept { return nulls_.contains(r); }

  /// int and timestamp values (meaningless where null). O(1) each.
  const int_array& ints() const noexcept { return ints_; }
  /// float values (0 where null).
  std::span<const double> floats() const noexcept { return floats_; }
  /// A numeric value as double (int, float or timestamp). O(1).
  double number_at(row_id r) const noexcept {
    return type_ == value_type::floating ? floats_[r] : static_cast<double>(ints_[r]);
  }

  /// bool: rows whose value is true.
  const Roaring& trues() const noexcept { return trues_; }
  bool bool_at(row_id r) const noexcept { return trues_.contains(r); }

  /// string and string[]: the sorted dictionary.
  const string_dictionary& dictionary() const noexcept { return dictionary_; }
  /// string: the code of each row (meaningless where null).
  const code_array& codes() const noexcept { return codes_; }
  std::string_view string_at(row_id r) const noexcept { return dictionary_[codes_[r]]; }
  /// string[]: codes of row r's list (empty where null). O(1).
  std::span<const std::uint32_t> list_at(row_id r) const noexcept {
    return {list_codes_.data() + list_offsets_[r], list_offsets_[r + 1] - list_offsets_[r]};
  }
  /// string, string[]: whether per-value bitmaps exist (false for nearly unique columns).
  bool has_value_bitmaps() const noexcept {
    return !value_bitmaps_.empty() || dictionary_.size() == 0;
  }
  /// Rows holding dictionary value `code` (for lists: whose list contains it).
  const Roaring& value_bitmap(std::uint32_t code) const noexcept { return value_bitmaps_[code]; }

  /// Bytes held by this column, all structures included.
  std::size_t memory_bytes() const noexcept {
    std::size_t b = nulls_.getSizeInBytes() + trues_.getSizeInBytes() + ints_.memory_bytes() +
                    floats_.memory_bytes() + dictionary_.memory_bytes() + codes_.memory_bytes() +
                    list_offsets_.memory_bytes() + list_codes_.memory_bytes();
    for (const auto& v : value_bitmaps_) b += v.getSizeInBytes() + sizeof(Roaring);
    return b;
  }

  /// Checks every invariant (sizes, dictionary order, bitmaps consistent with codes, nulls
  /// consistent with values). O(rows). Throws std::logic_error naming what is broken.
  void validate() const;

 private:
  friend struct detail_column_access;
  value_type type_ = value_type::string;
  std::size_t size_ = 0;
  Roaring nulls_;
  Roaring trues_;
  int_array ints_;
  pod_array<double> floats_;
  string_dictionary dictionary_;
  code_array codes_;
  pod_array<std::uint32_t> list_offsets_;
  pod_array<std::uint32_t> list_codes_;
  std::vector<Roaring> value_bitmaps_;
};

/// Access to column internals for the loader and the snapshot reader and writer.
struct detail_column_access {
  static value_type& type(column& c) { return c.type_; }
  static std::size_t& size(column& c) { return c.size_; }
  static Roaring& nulls(column& c) { return c.nulls_; }
  static Roaring& trues(column& c) { return c.trues_; }
  static int_array& ints(column& c) { return c.ints_; }
  static pod_array<double>& floats(column& c) { return c.floats_; }
  static string_dictionary& dictionary(column& c) { return c.dictionary_; }
  static code_array& codes(column& c) { return c.codes_; }
  static pod_array<std::uint32_t>& list_offsets(column& c) { return c.list_offsets_; }
  static pod_array<std::uint32_t>& list_codes(column& c) { return c.list_codes_; }
  static const pod_array<std::uint32_t>& list_offsets(const column& c) { return c.list_offsets_; }
  static const pod_array<std::uint32_t>& list_codes(const column& c) { return c.list_codes_; }
  static std::vector<Roaring>& value_bitmaps(column& c) { return c.value_bitmaps_; }
};

inline void column::validate() const {
  auto fail = [](const char* what) { throw std::logic_error(std::string("column: ") + what); };
  if (!nulls_.isEmpty() && nulls_.maximum() >= size_) fail("null bitmap beyond size");
  switch (type_) {
    case value_type::integer:
    case value_type::timestamp:
      if (ints_.size() != size_) fail("value count differs from size");
      break;
    case value_type::floating:
      if (floats_.size() != size_) fail("value count differs from size");
      break;
    case value_type::boolean:
      if (!trues_.isEmpty() && trues_.maximum() >= size_) fail("true bitmap beyond size");
      if (trues_.and_cardinality(nulls_) != 0) fail("a null row is also true");
      break;
    case value_type::string: {
      dictionary_.validate();
      if (codes_.size() != size_) fail("code count differs from size");
      std::vector<std::uint64_t> counts(dictionary_.size(), 0);
      for (row_id r = 0; r < size_; ++r) {
        if (nulls_.contains(r)) continue;
        if (codes_[r] >= dictionary_.size()) fail("code beyond dictionary");
        ++counts[codes_[r]];
        if (!value_bitmaps_.empty() && !value_bitmaps_[codes_[r]].contains(r))
          fail("row missing from its value bitmap");
      }
      if (!value_bitmaps_.empty()) {
        if (value_bitmaps_.size() != dictionary_.size())
          fail("bitmap count differs from dictionary");
        for (std::size_t c = 0; c < counts.size(); ++c)
          if (value_bitmaps_[c].cardinality() != counts[c]) fail("value bitmap has extra rows");
      }
      for (auto c : counts)
        if (c == 0) fail("dictionary value used by no row");
      break;
    }
    case value_type::string_list: {
      dictionary_.validate();
      if (list_offsets_.size() != size_ + 1) fail("list offsets differ from size");
      std::vector<std::uint64_t> counts(dictionary_.size(), 0);
      for (row_id r = 0; r < size_; ++r) {
        auto l = list_at(r);
        if (l.empty() != nulls_.contains(r)) fail("empty list and null disagree");
        for (std::size_t k = 0; k < l.size(); ++k) {
          if (l[k] >= dictionary_.size()) fail("code beyond dictionary");
          if (k && l[k - 1] >= l[k]) fail("list codes not sorted and distinct");
          ++counts[l[k]];
          if (!value_bitmaps_.empty() && !value_bitmaps_[l[k]].contains(r))
            fail("row missing from its value bitmap");
        }
      }
      if (!value_bitmaps_.empty())
        for (std::size_t c = 0; c < counts.size(); ++c)
          if (value_bitmaps_[c].cardinality() != counts[c]) fail("value bitmap has extra rows");
      break;
    }
  }
}

}  // namespace b2bseg
