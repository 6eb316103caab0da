// Small byte-level helpers for short texts (keys, identity values, dictionary strings), shared by
// the loader and identity resolution.
#pragma once

#include <cstdint>
#include <cstring>
#include <stdexcept>
#include <string_view>

namespace b2bseg {

/// Whether `a` and `b` hold the same bytes, compared inline 8 bytes at a time: the loader compares
/// short texts (keys, repeated values) once per row, where a call to memcmp cost about 10% of a
/// load (perf, 1M people). O(size).
inline bool same_text(std::string_view a, std::string_view b) noexcept {
  const std::size_t n = a.size();
  if (n != b.size()) return false;
  std::size_t i = 0;
  for (; i + 8 <= n; i += 8) {
    std::uint64_t x, y;
    std::memcpy(&x, a.data() + i, 8);
    std::memcpy(&y, b.data() + i, 8);
    if (x != y) return false;
  }
  for (; i < n; ++i)
    if (a[i] != b[i]) return false;
  return true;
}

/// The first 8 bytes of `s` as a big-endian integer (zero padded): comparing two prefixes orders
/// strings as memcmp does, unless they tie; then compare the strings.
inline std::uint64_t byte_prefix(std::string_view s) noexcept {
  std::uint64_t x = 0;
  for (std::size_t i = 0; i < 8; ++i)
    x = (x << 8) | (i < s.size() ? static_cast<unsigned char>(s[i]) : 0u);
  return x;
}

/// A view of bytes in 8 bytes instead of a string_view's 16: the address in the low 48 bits and
/// the size in the high 16 when both fit (user-space addresses of x86-64 and AArch64 take at most
/// 48 bits), else the address of a full string_view that the caller keeps. Loading with sources
/// keeps one per field of every source row (11M at 1M people): packed, those take 90 MB instead of
/// 180 MB, pages the load would otherwise fault in and zero (HACKING, "Memory and page faults").
class packed_view {
 public:
  packed_view() = default;

  /// `v` packed. A view that does not fit goes to `spill(v)`, which returns a pointer to a copy
  /// of `v` (the view, not its bytes) that outlives the packed view. Throws std::length_error
  /// when even that pointer does not fit in 48 bits. O(1).
  template <class Spill>
  static packed_view pack(std::string_view v, Spill&& spill) {
    const auto at = reinterpret_cast<std::uintptr_t>(v.data());
    if (v.size() < spilled && at <= address_mask)
      return packed_view(std::uint64_t(v.size()) << 48 | at);
    const auto kept =
        reinterpret_cast<std::uintptr_t>(static_cast<const std::string_view*>(spill(v)));
    if (kept > address_mask) throw std::length_error("packed_view: an address over 48 bits");
    return packed_view(std::uint64_t(spilled) << 48 | kept);
  }
  /// True for an empty view. O(1).
  bool empty() const noexcept { return (bits_ >> 48) == 0; }
  /// The view. O(1).
  std::string_view view() const noexcept {
    const auto n = static_cast<std::size_t>(bits_ >> 48);
    const char* at = reinterpret_cast<const char*>(bits_ & address_mask);
    if (n != spilled) return {at, n};
    return *reinterpret_cast<const std::string_view*>(at);
  }

 private:
  static constexpr std::uint64_t address_mask = (std::uint64_t(1) << 48) - 1;
  static constexpr std::size_t spilled = 0xFFFF;  ///< size bits of a spilled view
  explicit packed_view(std::uint64_t bits) noexcept : bits_(bits) {}
  std::uint64_t bits_ = 0;
};
static_assert(sizeof(packed_view) == 8);

}  // namespace b2bseg
