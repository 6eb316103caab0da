// External keys of an entity: the key string of every row and a hash index from key to row.
#pragma once

#define XXH_INLINE_ALL
#include <xxhash.h>

#include <algorithm>
#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "b2bseg/storage/column.hpp"
#include "b2bseg/storage/pod_array.hpp"

namespace b2bseg {

/// XXH3 of a string: the hash of every key table and dictionary builder.
inline std::uint64_t hash_bytes(std::string_view s) noexcept {
  return XXH3_64bits(s.data(), s.size());
}

/// Keys by row (owned, packed) plus an open-addressing table key -> row hashed with XXH3.
/// Immutable once built; safe to read from many threads. Lookup is O(1) expected.
class key_index {
 public:
  key_index() : offsets_(std::vector<std::uint32_t>{0}) {}

  /// Builds from keys in row order. Keys must be distinct (the loader checks that before).
  /// Throws std::length_error when the keys hold 4 GiB of characters or more.
  explicit key_index(const std::vector<std::string_view>& keys) {
    std::size_t total = 0;
    for (auto k : keys) total += k.size();
    if (total >= 0xFFFFFFFFu) throw std::length_error("keys over 4 GiB");
    std::vector<char> chars;
    std::vector<std::uint32_t> offsets;
    chars.reserve(total);
    offsets.reserve(keys.size() + 1);
    offsets.push_back(0);
    for (auto k : keys) {
      chars.insert(chars.end(), k.begin(), k.end());
      offsets.push_back(static_cast<std::uint32_t>(chars.size()));
    }
    chars_ = std::move(chars);
    offsets_ = std::move(offsets);
    rebuild_table();
  }
  /// From its parts (a snapshot): `offsets` non-decreasing within `chars`, `slots` larger than the
  /// row count, holding every row once and `no_row` elsewhere, as `slots()` gave them.
  key_index(pod_array<char> chars, pod_array<std::uint32_t> offsets,
            pod_array<row_id> slots) noexcept
      : chars_(std::move(chars)), offsets_(std::move(offsets)), slots_(std::move(slots)) {}

  std::size_t size() const noexcept { return offsets_.size() - 1; }
  /// The key of row `r`. O(1).
  std::string_view key(row_id r) const noexcept {
    return {chars_.data() + offsets_[r], offsets_[r + 1] - offsets_[r]};
  }
  /// The row of key `k`, or `no_row`. O(1) expected.
  row_id find(std::string_view k) const noexcept {
    const std::size_t cap = slots_.size();
    if (cap == 0) return no_row;
    for (std::size_t i = home(hash_bytes(k), cap);;) {
      row_id r = slots_[i];
      if (r == no_row) return no_row;
      if (key(r) == k) return r;
      if (++i == cap) i = 0;
    }
  }
  std::size_t memory_bytes() const noexcept {
    return chars_.memory_bytes() + offsets_.memory_bytes() + slots_.memory_bytes();
  }
  /// The parts, for the snapshot writer: key characters, key offsets, the hash table.
  const pod_array<char>& chars() const noexcept { return chars_; }
  const pod_array<std::uint32_t>& offsets() const noexcept { return offsets_; }
  const pod_array<row_id>& slots() const noexcept { return slots_; }
  /// Checks that every key is found at its own row (so keys are distinct). O(rows).
  void validate() const {
    for (row_id r = 0; r < size(); ++r)
      if (find(key(r)) != r) throw std::logic_error("key index: key not found at its row");
  }

 private:
  /// The first slot to probe for a hash: the hash scaled to [0, cap) (Lemire's multiply-shift,
  /// so the table need not be a power of two in size).
  static std::size_t home(std::uint64_t h, std::size_t cap) noexcept {
    return static_cast<std::size_t>((static_cast<unsigned __int128>(h) * cap) >> 64);
  }
  /// Linear probing at a load factor of 3/4 (4 bytes a slot: 5.3 bytes per key, where a power of
  /// two at 1.5x the keys costs 6 to 12), about 2.5 probes for a key that is there.
  void rebuild_table() {
    const std::size_t cap = std::max<std::size_t>(16, size() + size() / 3 + 1);
    std::vector<row_id> slots(cap, no_row);
    for (row_id r = 0; r < size(); ++r) {
      std::size_t i = home(hash_bytes(key(r)), cap);
      while (slots[i] != no_row)
        if (++i == cap) i = 0;
      slots[i] = r;
    }
    slots_ = std::move(slots);
  }
  pod_array<char> chars_;
  pod_array<std::uint32_t> offsets_;
  pod_array<row_id> slots_;
};

}  // namespace b2bseg
