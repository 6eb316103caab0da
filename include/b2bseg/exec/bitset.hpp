// The flat bitset for dense set algebra, and its fast conversions to and from CRoaring bitmaps.
#pragma once

#include <roaring/roaring.h>
#include <roaring/roaring.hh>

#include <algorithm>
#include <bit>
#include <cassert>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <limits>
#include <mutex>
#include <new>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "b2bseg/exec/simd.hpp"

namespace b2bseg {

namespace detail {

/// Sets bits [a, b) of a word array. Requires a <= b and the words to exist. O(b - a).
inline void set_bits(std::uint64_t* w, std::size_t a, std::size_t b) noexcept {
  if (a >= b) return;
  const std::size_t wa = a >> 6, wb = (b - 1) >> 6;
  const std::uint64_t ma = ~std::uint64_t{0} << (a & 63);
  const std::uint64_t mb = ~std::uint64_t{0} >> (63 - ((b - 1) & 63));
  if (wa == wb) {
    w[wa] |= ma & mb;
    return;
  }
  w[wa] |= ma;
  std::fill(w + wa + 1, w + wb, ~std::uint64_t{0});
  w[wb] |= mb;
}

/// Clears bits [a, b) of a word array. Requires a <= b and the words to exist. O(b - a).
inline void clear_bits(std::uint64_t* w, std::size_t a, std::size_t b) noexcept {
  if (a >= b) return;
  const std::size_t wa = a >> 6, wb = (b - 1) >> 6;
  const std::uint64_t ma = ~std::uint64_t{0} << (a & 63);
  const std::uint64_t mb = ~std::uint64_t{0} >> (63 - ((b - 1) & 63));
  if (wa == wb) {
    w[wa] &= ~(ma & mb);
    return;
  }
  w[wa] &= ~ma;
  std::fill(w + wa + 1, w + wb, std::uint64_t{0});
  w[wb] &= ~mb;
}

}  // namespace detail

namespace detail {

/// A process-wide cache of freed large bitset blocks, by word count. Evaluation allocates and
/// frees bitsets of the same few sizes (one per entity) over and over; blocks of 128 KiB and
/// more would otherwise go back to the system (glibc maps them) and be faulted in again on every
/// node. Holds at most 256 MiB; thread-safe; never destroyed (bitsets may outlive statics).
class bitset_block_cache {
 public:
  static bitset_block_cache& instance() noexcept {
    static bitset_block_cache* cache = new bitset_block_cache;
    return *cache;
  }
  /// A cached block of exactly `words` words, or nullptr.
  std::uint64_t* take(std::size_t words) noexcept {
    if (words < min_words) return nullptr;
    std::lock_guard<std::mutex> lock(mutex_);
    for (std::size_t i = 0; i < blocks_.size(); ++i)
      if (blocks_[i].words == words) {
        std::uint64_t* p = blocks_[i].p;
        blocks_[i] = blocks_.back();
        blocks_.pop_back();
        bytes_ -= words * 8;
        return p;
      }
    return nullptr;
  }
  /// Keeps `p` for reuse; false when it is too small or the cache is full (then free it).
  bool give(std::uint64_t* p, std::size_t words) noexcept {
    if (words < min_words) return false;
    std::lock_guard<std::mutex> lock(mutex_);
    if (bytes_ + words * 8 > max_bytes || blocks_.size() >= max_blocks) return false;
    blocks_.push_back({p, words});  // never reallocates: capacity reserved up front
    bytes_ += words * 8;
    return true;
  }

 private:
  bitset_block_cache() { blocks_.reserve(max_blocks); }
  static constexpr std::size_t min_words = (std::size_t{128} << 10) / 8;
  static constexpr std::size_t max_bytes = std::size_t{256} << 20;
  static constexpr std::size_t max_blocks = 256;
  struct block {
    std::uint64_t* p;
    std::size_t words;
  };
  std::mutex mutex_;
  std::vector<block> blocks_;
  std::size_t bytes_ = 0;
};

}  // namespace detail

/// A fixed-size set of bits {0, ..., size()-1}, stored as 64-bit words in memory aligned to 64
/// bytes, with the word count rounded up to whole 512-bit blocks. Bits at and above size() (the
/// padding) are always zero: every operation keeps this invariant, and `count()`, the set
/// operations and the conversions rely on it. Move-only (copy with `clone()`); owns its words.
/// Different word ranges may be written by different threads at once (e.g. the range variants
/// of the set operations); otherwise the usual rules of standard containers apply.
class bitset {
 public:
  static constexpr std::size_t block_bits = 512;                 ///< allocation granule, bits
  static constexpr std::size_t block_words = 8;                  ///< allocation granule, words
  static constexpr std::size_t alignment = 64;                   ///< word array alignment, bytes
  static constexpr std::size_t max_bits = std::size_t{1} << 32;  ///< ids are 32-bit

  /// An empty bitset (size 0, no memory). Never throws.
  bitset() noexcept = default;

  /// A bitset of n_bits bits, all clear (or all set when `fill`). O(n_bits / 64).
  /// Throws std::length_error when n_bits > 2^32, std::bad_alloc.
  explicit bitset(std::size_t n_bits, bool fill = false) : bitset(n_bits, uninit_tag{}) {
    this->fill(fill);
  }

  ~bitset() { release(); }

  bitset(bitset&& other) noexcept
      : words_(std::exchange(other.words_, nullptr)),
        size_(std::exchange(other.size_, 0)),
        n_words_(std::exchange(other.n_words_, 0)) {}

  bitset& operator=(bitset&& other) noexcept {
    if (this != &other) {
      release();
      words_ = std::exchange(other.words_, nullptr);
      size_ = std::exchange(other.size_, 0);
      n_words_ = std::exchange(other.n_words_, 0);
    }
    return *this;
  }

  bitset(const bitset&) = delete;
  bitset& operator=(const bitset&) = delete;

  /// A deep copy. O(size / 64). Throws std::bad_alloc.
  bitset clone() const {
    bitset copy(size_, uninit_tag{});
    if (n_words_ != 0) std::memcpy(copy.words_, words_, n_words_ * sizeof(std::uint64_t));
    return copy;
  }

  /// Number of bits (ids 0 .. size()-1).
  std::size_t size() const noexcept { return size_; }
  /// True when size() == 0.
  bool empty() const noexcept { return size_ == 0; }
  /// The words, 64-byte aligned; word_count() of them, a multiple of 8. Bit i is bit (i % 64) of
  /// word i / 64. Writers must keep the padding bits zero. Null when word_count() == 0.
  std::uint64_t* words() noexcept { return words_; }
  const std::uint64_t* words() const noexcept { return words_; }
  std::size_t word_count() const noexcept { return n_words_; }

  /// Whether bit i is set. Requires i < size().
  bool test(std::size_t i) const noexcept {
    assert(i < size_);
    return (words_[i >> 6] >> (i & 63)) & 1;
  }
  /// Sets bit i. Requires i < size().
  void set(std::size_t i) noexcept {
    assert(i < size_);
    words_[i >> 6] |= std::uint64_t{1} << (i & 63);
  }
  /// Clears bit i. Requires i < size().
  void reset(std::size_t i) noexcept {
    assert(i < size_);
    words_[i >> 6] &= ~(std::uint64_t{1} << (i & 63));
  }
  /// Sets bits [a, b). Requires a <= b <= size(). O((b - a) / 64).
  void set_range(std::size_t a, std::size_t b) noexcept {
    assert(a <= b && b <= size_);
    detail::set_bits(words_, a, b);
  }
  /// Clears bits [a, b). Requires a <= b <= size(). O((b - a) / 64).
  void reset_range(std::size_t a, std::size_t b) noexcept {
    assert(a <= b && b <= size_);
    detail::clear_bits(words_, a, b);
  }

  /// Number of set bits. O(size / 64), SIMD.
  std::size_t count() const noexcept { return popcount_words(words_, n_words_); }

  /// Number of set bits in [a, b). Requires a <= b <= size(). O((b - a) / 64), SIMD.
  std::size_t count_range(std::size_t a, std::size_t b) const noexcept {
    assert(a <= b && b <= size_);
    if (a >= b) return 0;
    const std::size_t wa = a >> 6, wb = (b - 1) >> 6;
    const std::uint64_t ma = ~std::uint64_t{0} << (a & 63);
    const std::uint64_t mb = ~std::uint64_t{0} >> (63 - ((b - 1) & 63));
    if (wa == wb) return detail::popcount64(words_[wa] & ma & mb);
    return detail::popcount64(words_[wa] & ma) + popcount_words(words_ + wa + 1, wb - wa - 1) +
           detail::popcount64(words_[wb] & mb);
  }

  /// Whether any bit is set. O(size / 64), stops at the first non-zero block.
  bool any() const noexcept {
    for (std::size_t i = 0; i < n_words_; i += block_words) {
      std::uint64_t x = 0;
      for (std::size_t k = 0; k < block_words; ++k) x |= words_[i + k];
      if (x != 0) return true;
    }
    return false;
  }
  /// Whether no bit is set.
  bool none() const noexcept { return !any(); }

  /// Sets (or clears) every bit below size(). O(size / 64).
  void fill(bool value) noexcept {
    if (n_words_ == 0) return;
    std::memset(words_, value ? 0xff : 0, n_words_ * sizeof(std::uint64_t));
    if (value) clear_padding();
  }

  /// Complements every bit below size(); the padding stays zero. O(size / 64), SIMD.
  void flip_all() noexcept {
    not_words(words_, words_, n_words_);
    clear_padding();
  }

  /// Calls f(id) for each set bit, ascending; `id` is std::uint32_t. Decodes 32 words at a time
  /// into an 8 KiB stack buffer with the SIMD decoder, then calls f on each id.
  /// O(size / 64 + count). f must not modify this bitset; it may throw (the walk then stops).
  template <class F>
  void for_each(F&& f) const {
    constexpr std::size_t batch_words = 32;
    std::uint32_t ids[batch_words * 64];
    for (std::size_t w0 = 0; w0 < n_words_; w0 += batch_words) {
      const std::size_t k =
          decode_words(words_ + w0, std::min(batch_words, n_words_ - w0),
                       static_cast<std::uint32_t>(64 * w0), ids, batch_words * 64);
      for (std::size_t j = 0; j < k; ++j) f(ids[j]);
    }
  }

  /// Checks the invariants: word count is size rounded up to 512-bit blocks, words aligned to
  /// 64 bytes, padding bits zero. O(1) plus the padding words. For tests and assertions.
  bool validate() const noexcept {
    if (n_words_ != words_for(size_)) return false;
    if (n_words_ == 0) return words_ == nullptr;
    if (reinterpret_cast<std::uintptr_t>(words_) % alignment != 0) return false;
    const std::size_t used = (size_ + 63) / 64;
    if (used > 0 && (words_[used - 1] & ~last_word_mask()) != 0) return false;
    for (std::size_t i = used; i < n_words_; ++i)
      if (words_[i] != 0) return false;
    return true;
  }

  // ---- set algebra, in place. `other` must have the same size() (checked by assert): ids are
  // dense row numbers of one entity, so a mismatch is a programmer error. O(size / 64), SIMD.

  /// this &= other.
  void and_with(const bitset& other) noexcept { and_with(other, 0, n_words_); }
  /// this |= other.
  void or_with(const bitset& other) noexcept { or_with(other, 0, n_words_); }
  /// this &= ~other.
  void andnot_with(const bitset& other) noexcept { andnot_with(other, 0, n_words_); }
  /// this ^= other.
  void xor_with(const bitset& other) noexcept { xor_with(other, 0, n_words_); }

  // The same on words [w0, w1) only (bits [64*w0, 64*w1)), so that threads can split the work
  // by id ranges. Requires w0 <= w1 <= word_count(); 8-word-aligned ranges are fastest.

  void and_with(const bitset& other, std::size_t w0, std::size_t w1) noexcept {
    check_range(other, w0, w1);
    and_words(words_ + w0, words_ + w0, other.words_ + w0, w1 - w0);
  }
  void or_with(const bitset& other, std::size_t w0, std::size_t w1) noexcept {
    check_range(other, w0, w1);
    or_words(words_ + w0, words_ + w0, other.words_ + w0, w1 - w0);
  }
  void andnot_with(const bitset& other, std::size_t w0, std::size_t w1) noexcept {
    check_range(other, w0, w1);
    andnot_words(words_ + w0, words_ + w0, other.words_ + w0, w1 - w0);
  }
  void xor_with(const bitset& other, std::size_t w0, std::size_t w1) noexcept {
    check_range(other, w0, w1);
    xor_words(words_ + w0, words_ + w0, other.words_ + w0, w1 - w0);
  }

  /// this = a & b, without a temporary. All three of the same size (assert). a or b may be this.
  void assign_and(const bitset& a, const bitset& b) noexcept {
    check_range(a, 0, n_words_);
    check_range(b, 0, n_words_);
    and_words(words_, a.words_, b.words_, n_words_);
  }
  /// this = a | b. As assign_and.
  void assign_or(const bitset& a, const bitset& b) noexcept {
    check_range(a, 0, n_words_);
    check_range(b, 0, n_words_);
    or_words(words_, a.words_, b.words_, n_words_);
  }
  /// this = a & ~b. As assign_and.
  void assign_andnot(const bitset& a, const bitset& b) noexcept {
    check_range(a, 0, n_words_);
    check_range(b, 0, n_words_);
    andnot_words(words_, a.words_, b.words_, n_words_);
  }

  /// |this & other| without writing it. Same size (assert). O(size / 64), SIMD.
  std::size_t and_count(const bitset& other) const noexcept {
    check_range(other, 0, n_words_);
    return and_popcount_words(words_, other.words_, n_words_);
  }
  /// |this & ~other| without writing it. Same size (assert). O(size / 64), SIMD.
  std::size_t andnot_count(const bitset& other) const noexcept {
    check_range(other, 0, n_words_);
    return andnot_popcount_words(words_, other.words_, n_words_);
  }

  /// Same size and same bits. O(size / 64).
  friend bool operator==(const bitset& a, const bitset& b) noexcept {
    return a.size_ == b.size_ &&
           (a.n_words_ == 0 ||
            std::memcmp(a.words_, b.words_, a.n_words_ * sizeof(std::uint64_t)) == 0);
  }

  /// Words needed for n_bits bits: rounded up to whole 512-bit blocks.
  static constexpr std::size_t words_for(std::size_t n_bits) noexcept {
    return (n_bits + block_bits - 1) / block_bits * block_words;
  }

 private:
  struct uninit_tag {};

  // Allocates without initializing the words; the caller writes all of them.
  bitset(std::size_t n_bits, uninit_tag) : size_(n_bits), n_words_(words_for(n_bits)) {
    if (n_bits > max_bits)
      throw std::length_error("b2bseg::bitset: " + std::to_string(n_bits) +
                              " bits exceed the 2^32 id space");
    if (n_words_ != 0) {
      words_ = detail::bitset_block_cache::instance().take(n_words_);
      if (words_ == nullptr)
        words_ = static_cast<std::uint64_t*>(
            ::operator new (n_words_ * sizeof(std::uint64_t), std::align_val_t{alignment}));
    }
  }

  void release() noexcept {
    if (words_ != nullptr && !detail::bitset_block_cache::instance().give(words_, n_words_))
      ::operator delete (words_, std::align_val_t{alignment});
    words_ = nullptr;
  }

  // Bits of the last used word that lie below size().
  std::uint64_t last_word_mask() const noexcept {
    return (size_ & 63) ? (std::uint64_t{1} << (size_ & 63)) - 1 : ~std::uint64_t{0};
  }

  // Zeroes everything at and above size().
  void clear_padding() noexcept {
    if (n_words_ == 0) return;
    const std::size_t used = (size_ + 63) / 64;
    if (used > 0) words_[used - 1] &= last_word_mask();
    std::fill(words_ + used, words_ + n_words_, std::uint64_t{0});
  }

  void check_range([[maybe_unused]] const bitset& other, [[maybe_unused]] std::size_t w0,
                   [[maybe_unused]] std::size_t w1) const noexcept {
    // Programmer errors: operands of one set operation range over the same entity.
    assert(other.size_ == size_);
    assert(w0 <= w1 && w1 <= n_words_);
  }

  std::uint64_t* words_ = nullptr;
  std::size_t size_ = 0;
  std::size_t n_words_ = 0;
};

// ---- decoding -------------------------------------------------------------------------------

/// Writes the ids of the set bits of words[0, n_words), ascending, to out, adding `base` (the id
/// of bit 0 of words[0]); returns how many. out must have room for exactly that many ids
/// (popcount_words(words, n_words)); nothing past them is written. Lets threads decode disjoint
/// word ranges. O(n_words + ids), SIMD. Never throws.
inline std::size_t decode_words(const std::uint64_t* words, std::size_t n_words, std::uint32_t base,
                                std::uint32_t* out) noexcept {
  return decode_words(words, n_words, base, out, popcount_words(words, n_words));
}

/// Writes the ids of all set bits of b, ascending, to out; returns how many (b.count()). out must
/// have room for b.count() ids. O(size / 64 + count). Never throws.
inline std::size_t to_ids(const bitset& b, std::uint32_t* out) noexcept {
  return decode_words(b.words(), b.word_count(), 0, out, b.count());
}

/// The ids of all set bits of b, ascending. O(size / 64 + count). Throws std::bad_alloc.
inline std::vector<std::uint32_t> to_ids(const bitset& b) {
  std::vector<std::uint32_t> ids(b.count());
  decode_words(b.words(), b.word_count(), 0, ids.data(), ids.size());
  return ids;
}

// ---- CRoaring conversions (CRoaring 0.2.66 container layouts) -------------------------------

// The conversions read and build CRoaring's containers directly, so they depend on its layouts.
static_assert(ROARING_VERSION_MAJOR == 0 && ROARING_VERSION_MINOR == 2,
              "b2bseg/exec/bitset.hpp reads CRoaring 0.2.x internals (roaring_array_t, the "
              "container structs and type codes); port its conversions for this CRoaring");

namespace detail {

inline constexpr std::size_t roaring_chunk_words = 1024;  // 65536 bits per Roaring container

/// Throws std::out_of_range when r holds a value >= n_bits. O(1).
inline void check_roaring_fits(const roaring_bitmap_t* r, std::size_t n_bits) {
  if (r->high_low_container.size == 0) return;
  const std::uint32_t max = roaring_bitmap_maximum(r);
  if (max >= n_bits)
    throw std::out_of_range("b2bseg: Roaring bitmap holds id " + std::to_string(max) +
                            ", outside a bitset of " + std::to_string(n_bits) + " bits");
}

/// ORs every container of r into words (which hold all of r's values, see check_roaring_fits).
/// `fresh`: words are all zero, so bitset containers may be copied instead of ORed.
inline void or_roaring_into_words(std::uint64_t* words, std::size_t n_words,
                                  const roaring_bitmap_t* r, bool fresh) noexcept {
  const roaring_array_t& ra = r->high_low_container;
  for (std::int32_t i = 0; i < ra.size; ++i) {
    const void* c = ra.containers[i];
    std::uint8_t type = ra.typecodes[i];
    if (type == SHARED_CONTAINER_TYPE_CODE) {  // copy-on-write wrapper: read what it shares
      const auto* shared = static_cast<const shared_container_t*>(c);
      c = shared->container;
      type = shared->typecode;
    }
    const std::size_t first = std::size_t{ra.keys[i]} * roaring_chunk_words;
    if (first >= n_words) continue;  // only empty containers can lie past the last value
    std::uint64_t* w = words + first;
    const std::size_t avail = std::min(roaring_chunk_words, n_words - first);
    switch (type) {
      case BITSET_CONTAINER_TYPE_CODE: {
        // Words past `avail` hold no values (they would exceed the maximum).
        const std::uint64_t* src = static_cast<const bitset_container_t*>(c)->array;
        if (fresh)
          std::memcpy(w, src, avail * sizeof(std::uint64_t));
        else
          or_words(w, w, src, avail);
        break;
      }
      case ARRAY_CONTAINER_TYPE_CODE: {
        const auto* ac = static_cast<const array_container_t*>(c);
        const std::uint16_t* v = ac->array;
        for (std::int32_t k = 0; k < ac->cardinality; ++k)
          w[v[k] >> 6] |= std::uint64_t{1} << (v[k] & 63);
        break;
      }
      case RUN_CONTAINER_TYPE_CODE: {
        const auto* rc = static_cast<const run_container_t*>(c);
        for (std::int32_t k = 0; k < rc->n_runs; ++k) {
          const std::size_t start = rc->runs[k].value;
          set_bits(w, start, start + rc->runs[k].length + 1);
        }
        break;
      }
      default:
        assert(false && "unknown CRoaring container type");
        break;
    }
  }
}

/// Fills a run container with the runs of ones in w[0, n_words) (relative to the chunk).
inline void fill_run_container(run_container_t* rc, const std::uint64_t* w,
                               std::size_t n_words) noexcept {
  const std::size_t n_bits = n_words * 64;
  std::int32_t n = 0;
  std::size_t i = 0;                     // word of the next search
  std::uint64_t x = n_words ? w[0] : 0;  // w[i] with bits below the search position cleared
  while (true) {
    while (x == 0) {
      if (++i >= n_words) {
        rc->n_runs = n;
        return;
      }
      x = w[i];
    }
    const std::size_t start = 64 * i + static_cast<std::size_t>(std::countr_zero(x));
    // Find the first clear bit at or after start.
    std::uint64_t y = ~x & (~std::uint64_t{0} << (start & 63));
    while (y == 0 && ++i < n_words) y = ~w[i];
    const std::size_t end =
        i < n_words ? 64 * i + static_cast<std::size_t>(std::countr_zero(y)) : n_bits;
    rc->runs[n].value = static_cast<std::uint16_t>(start);
    rc->runs[n].length = static_cast<std::uint16_t>(end - start - 1);
    ++n;
    if (end >= n_bits) {
      rc->n_runs = n;
      return;
    }
    i = end >> 6;
    x = w[i] & (~std::uint64_t{0} << (end & 63));
  }
}

/// Builds the smallest CRoaring container for the chunk w[0, n_words) holding `card` > 0 bits:
/// array (<= 4096 values), bitset, or (when `runs` allows and it is smaller) run. Null on
/// allocation failure.
inline void* make_roaring_container(const std::uint64_t* w, std::size_t n_words, std::size_t card,
                                    bool optimize_runs, std::uint8_t* type) noexcept {
  // Sizes in bytes as CRoaring's run_optimize compares them.
  const std::size_t plain_bytes = card <= DEFAULT_MAX_SIZE ? 2 * card + 2 : 8192;
  if (optimize_runs) {
    const std::size_t runs = count_runs_words(w, n_words);
    if (4 * runs + 2 < plain_bytes) {
      run_container_t* rc = run_container_create_given_capacity(static_cast<std::int32_t>(runs));
      if (rc == nullptr) return nullptr;
      fill_run_container(rc, w, n_words);
      assert(static_cast<std::size_t>(rc->n_runs) == runs);
      *type = RUN_CONTAINER_TYPE_CODE;
      return rc;
    }
  }
  if (card <= DEFAULT_MAX_SIZE) {
    array_container_t* ac = array_container_create_given_capacity(static_cast<std::int32_t>(card));
    if (ac == nullptr) return nullptr;
    ac->cardinality = static_cast<std::int32_t>(decode_portable(w, n_words, 0, ac->array, card));
    *type = ARRAY_CONTAINER_TYPE_CODE;
    return ac;
  }
  bitset_container_t* bc = bitset_container_create();  // zeroed
  if (bc == nullptr) return nullptr;
  std::memcpy(bc->array, w, n_words * sizeof(std::uint64_t));
  bc->cardinality = static_cast<std::int32_t>(card);
  *type = BITSET_CONTAINER_TYPE_CODE;
  return bc;
}

}  // namespace detail

/// A bitset of n_bits bits holding the values of r. Copies bitset containers whole, sets array
/// values one by one and run containers as ranges; reads copy-on-write (shared) containers in
/// place. O(n_bits / 64 + |r|). Throws std::out_of_range when r holds a value >= n_bits,
/// std::length_error when n_bits > 2^32, std::bad_alloc. r stays owned by the caller.
inline bitset to_bitset(const roaring_bitmap_t* r, std::size_t n_bits) {
  detail::check_roaring_fits(r, n_bits);
  bitset b(n_bits);
  detail::or_roaring_into_words(b.words(), b.word_count(), r, true);
  return b;
}

/// to_bitset for the C++ wrapper.
inline bitset to_bitset(const Roaring& r, std::size_t n_bits) {
  return to_bitset(&r.roaring, n_bits);
}

/// b |= r, container by container (SIMD OR for bitset containers). O(|containers| + |r|).
/// Throws std::out_of_range (leaving b unchanged) when r holds a value >= b.size().
inline void or_into(bitset& b, const roaring_bitmap_t* r) {
  detail::check_roaring_fits(r, b.size());
  detail::or_roaring_into_words(b.words(), b.word_count(), r, false);
}

/// or_into for the C++ wrapper.
inline void or_into(bitset& b, const Roaring& r) {
  or_into(b, &r.roaring);
}

/// A new CRoaring bitmap holding the set bits of b, built container by container (one 65536-bit
/// chunk at a time, SIMD popcount): array containers for <= 4096 values, bitset containers
/// otherwise, and with `optimize_runs` run containers where smaller (as roaring_bitmap_run_optimize
/// would choose). O(size / 64 + count). The caller owns the result: roaring_bitmap_free it.
/// Throws std::bad_alloc.
inline roaring_bitmap_t* to_roaring(const bitset& b, bool optimize_runs = true) {
  const std::size_t n_words = b.word_count();
  const std::size_t n_chunks =
      (n_words + detail::roaring_chunk_words - 1) / detail::roaring_chunk_words;
  // Capacity for every chunk up front, so that ra_append never has to grow (it cannot report
  // a failed allocation).
  roaring_bitmap_t* r = roaring_bitmap_create_with_capacity(
      static_cast<std::uint32_t>(std::max<std::size_t>(n_chunks, 1)));
  if (r == nullptr) throw std::bad_alloc();
  for (std::size_t k = 0; k < n_chunks; ++k) {
    const std::uint64_t* w = b.words() + k * detail::roaring_chunk_words;
    const std::size_t nw =
        std::min(detail::roaring_chunk_words, n_words - k * detail::roaring_chunk_words);
    const std::size_t card = popcount_words(w, nw);
    if (card == 0) continue;
    std::uint8_t type = 0;
    void* c = detail::make_roaring_container(w, nw, card, optimize_runs, &type);
    if (c == nullptr) {
      roaring_bitmap_free(r);
      throw std::bad_alloc();
    }
    ra_append(&r->high_low_container, static_cast<std::uint16_t>(k), c, type);
  }
  return r;
}

/// to_roaring as a C++ `Roaring` (which takes over the C bitmap). Throws std::bad_alloc.
inline Roaring to_roaring_cpp(const bitset& b, bool optimize_runs = true) {
  return Roaring(to_roaring(b, optimize_runs));
}

}  // namespace b2bseg
