// A read-only array of plain values that either owns them or views memory someone else keeps
// alive (a mapped snapshot): the storage of every column, key table and adjacency array.
#pragma once

#include <cstddef>
#include <memory>
#include <span>
#include <type_traits>
#include <utility>
#include <vector>

namespace b2bseg {

/// An immutable array of trivially copyable `T`. Built from a `std::vector<T>` (owned: the
/// loader's path) or as a view of `n` elements at `p` whose memory `keeper` keeps alive (a
/// snapshot's mapping: opening a snapshot maps rather than copies). Reads cost the same either way:
/// one pointer and one size, no branch. Copying an owned array copies its elements; copying a view
/// shares the keeper.
template <class T>
class pod_array {
  static_assert(std::is_trivially_copyable_v<T>);

 public:
  pod_array() = default;
  /// Takes ownership of `v`'s elements. O(1).
  pod_array(std::vector<T> v) noexcept
      : own_(std::move(v)), data_(own_.data()), size_(own_.size()) {}
  /// A view of [p, p + n), valid as long as `keeper` lives. O(1).
  static pod_array view(const T* p, std::size_t n, std::shared_ptr<const void> keeper) noexcept {
    pod_array a;
    a.data_ = p;
    a.size_ = n;
    a.keeper_ = std::move(keeper);
    return a;
  }

  pod_array(const pod_array& o) { *this = o; }
  pod_array& operator=(const pod_array& o) {
    if (this == &o) return *this;
    keeper_ = o.keeper_;
    if (keeper_) {
      std::vector<T>().swap(own_);  // free what an owned array held
      data_ = o.data_;
    } else {
      own_.assign(o.data_, o.data_ + o.size_);
      data_ = own_.data();
    }
    size_ = o.size_;
    return *this;
  }
  pod_array(pod_array&& o) noexcept { *this = std::move(o); }
  pod_array& operator=(pod_array&& o) noexcept {
    if (this == &o) return *this;
    own_ = std::move(o.own_);  // a moved vector keeps its buffer, so data_ stays valid
    keeper_ = std::move(o.keeper_);
    data_ = o.data_;
    size_ = o.size_;
    o.own_.clear();
    o.data_ = nullptr;
    o.size_ = 0;
    return *this;
  }

  const T* data() const noexcept { return data_; }
  std::size_t size() const noexcept { return size_; }
  bool empty() const noexcept { return size_ == 0; }
  const T& operator[](std::size_t i) const noexcept { return data_[i]; }
  const T* begin() const noexcept { return data_; }
  const T* end() const noexcept { return data_ + size_; }
  const T& back() const noexcept { return data_[size_ - 1]; }
  operator std::span<const T>() const noexcept { return {data_, size_}; }
  /// True when the elements live in memory this array does not own (a snapshot's mapping).
  bool is_view() const noexcept { return keeper_ != nullptr; }
  /// Owned elements, writable: only for the builder that just made the array (not for views).
  T* mutable_data() noexcept { return own_.data(); }
  /// Bytes held: the owned capacity, or the viewed bytes (mapped, but resident once read).
  std::size_t memory_bytes() const noexcept {
    return (keeper_ ? size_ : own_.capacity()) * sizeof(T);
  }

 private:
  std::vector<T> own_;
  const T* data_ = nullptr;
  std::size_t size_ = 0;
  std::shared_ptr<const void> keeper_;
};

}  // namespace b2bseg
