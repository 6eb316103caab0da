// A many-to-one link: the parent of every row, and the reverse adjacency (CSR) from parents.
#pragma once

#include <cstdint>
#include <span>
#include <stdexcept>
#include <vector>

#include "b2bseg/storage/column.hpp"
#include "b2bseg/storage/pod_array.hpp"

namespace b2bseg {

/// The link `source.link -> target`. `parent(r)` is the target row of source row r (`no_row`
/// when unset); `children(p)` are the source rows pointing at target row p, ascending.
///
/// When source rows are clustered by this link (the loader numbers rows so, see HACKING.md), the
/// children of p are the contiguous range [offsets[p], offsets[p+1]) and no target array is stored:
/// `clustered()` is true and `child_range(p)` gives the range.
class link_index {
 public:
  link_index() = default;
  /// Builds from the parent of every source row. O(source + target rows).
  link_index(std::vector<row_id> parents, std::size_t target_rows) {
    std::vector<std::uint32_t> offsets(target_rows + 1, 0);
    clustered_ = true;
    row_id last = 0;
    bool seen_null = false;
    for (row_id p : parents) {
      if (p == no_row) {
        seen_null = true;
        continue;
      }
      ++offsets[p + 1];
      if (p < last || seen_null) clustered_ = false;
      last = p;
    }
    for (std::size_t i = 1; i <= target_rows; ++i) offsets[i] += offsets[i - 1];
    set_count_ = offsets[target_rows];
    if (!clustered_) {
      std::vector<row_id> targets(set_count_);
      std::vector<std::uint32_t> fill(offsets.begin(), offsets.end() - 1);
      for (row_id r = 0; r < parents.size(); ++r)
        if (parents[r] != no_row) targets[fill[parents[r]]++] = r;
      targets_ = std::move(targets);
    }
    parents_ = std::move(parents);
    offsets_ = std::move(offsets);
  }
  /// From its parts (a snapshot), as `parents()`, `offsets()`, `targets()`, `set_count()` and
  /// `clustered()` gave them; `validate()` checks that they agree.
  link_index(pod_array<row_id> parents, pod_array<std::uint32_t> offsets, pod_array<row_id> targets,
             std::size_t set_count, bool clustered) noexcept
      : parents_(std::move(parents)),
        offsets_(std::move(offsets)),
        targets_(std::move(targets)),
        set_count_(set_count),
        clustered_(clustered) {}

  std::size_t source_rows() const noexcept { return parents_.size(); }
  std::size_t target_rows() const noexcept { return offsets_.empty() ? 0 : offsets_.size() - 1; }
  /// Number of source rows whose link is set.
  std::size_t set_count() const noexcept { return set_count_; }
  std::span<const row_id> parents() const noexcept { return parents_; }
  row_id parent(row_id r) const noexcept { return parents_[r]; }
  /// CSR offsets, target_rows + 1 entries.
  std::span<const std::uint32_t> offsets() const noexcept { return offsets_; }
  std::uint32_t degree(row_id p) const noexcept { return offsets_[p + 1] - offsets_[p]; }
  /// True when every set source row comes before every unset one and parents never decrease.
  bool clustered() const noexcept { return clustered_; }
  /// The children of p (only when clustered): [first, second).
  std::pair<row_id, row_id> child_range(row_id p) const noexcept {
    return {offsets_[p], offsets_[p + 1]};
  }
  /// The children of p, ascending. Only when not clustered.
  std::span<const row_id> children(row_id p) const noexcept {
    return {targets_.data() + offsets_[p], degree(p)};
  }
  /// Calls f(child) for every child of p, clustered or not.
  template <class F>
  void for_each_child(row_id p, F&& f) const {
    if (clustered_) {
      for (row_id c = offsets_[p]; c < offsets_[p + 1]; ++c) f(c);
    } else {
      for (row_id c : children(p)) f(c);
    }
  }
  std::size_t memory_bytes() const noexcept {
    return parents_.memory_bytes() + offsets_.memory_bytes() + targets_.memory_bytes();
  }
  /// CSR targets (only when not clustered; empty otherwise), for the snapshot writer.
  const pod_array<row_id>& targets() const noexcept { return targets_; }
  /// Checks that parents and the reverse adjacency agree. O(rows). Throws std::logic_error.
  void validate() const {
    std::size_t n = 0;
    for (row_id p = 0; p < target_rows(); ++p) {
      if (offsets_[p + 1] < offsets_[p]) throw std::logic_error("link: offsets decrease");
      row_id prev = 0;
      bool first = true;
      for_each_child(p, [&](row_id c) {
        if (c >= parents_.size() || parents_[c] != p)
          throw std::logic_error("link: child disagrees with parent");
        if (!first && c <= prev) throw std::logic_error("link: children not ascending");
        prev = c;
        first = false;
        ++n;
      });
    }
    std::size_t set = 0;
    for (row_id p : parents_) {
      if (p == no_row) continue;
      if (p >= target_rows()) throw std::logic_error("link: parent beyond target");
      ++set;
    }
    if (n != set || set != set_count_) throw std::logic_error("link: counts disagree");
  }

 private:
  pod_array<row_id> parents_;
  pod_array<std::uint32_t> offsets_;
  pod_array<row_id> targets_;
  std::size_t set_count_ = 0;
  bool clustered_ = false;
};

}  // namespace b2bseg
