// `bucket("SALT", N)` of the segment language (SPEC 3.5): a stable pseudo-random bucket per key,
// for holdouts and splits that come out the same on every run, machine and thread count.
#pragma once

#define XXH_INLINE_ALL
#include <xxhash.h>

#include <cstdint>
#include <string>
#include <string_view>

namespace b2bseg {

/// Maps keys to buckets 0..n-1: XXH3-64 (seed 0) of the salt's bytes, one 0 byte and the key's
/// bytes, modulo n. Holds a scratch buffer, so one hasher per thread. O(size of the key) a call.
class bucket_hasher {
 public:
  /// `n` >= 1 (the binder checks 1 <= n <= 2^31).
  bucket_hasher(std::string_view salt, std::uint64_t n) : prefix_(salt.size() + 1), n_(n) {
    buffer_.assign(salt);
    buffer_.push_back('\0');
  }

  /// The bucket of `key`.
  std::uint64_t operator()(std::string_view key) {
    buffer_.resize(prefix_);
    buffer_.append(key);
    return XXH3_64bits(buffer_.data(), buffer_.size()) % n_;
  }

 private:
  std::size_t prefix_;
  std::uint64_t n_;
  std::string buffer_;
};

}  // namespace b2bseg
