// Identity resolution (SPEC 2.3): rows that share a normalized identity value, transitively, are
// one profile. Connected components by sorting (namespace, value) pairs and a union-find; the
// profile key, the most shared value and a hash index from identity values to profiles.
#pragma once

#define XXH_INLINE_ALL
#include <xxhash.h>

#include <algorithm>
#include <bit>
#include <cstdint>
#include <memory>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include <tbb/blocked_range.h>
#include <tbb/task_arena.h>

#include "b2bseg/common/bytes.hpp"
#include "b2bseg/exec/parallel.hpp"
#include "b2bseg/storage/schema.hpp"

namespace b2bseg {

/// `v` normalized by `rule` (SPEC 2.3): `exact` returns it as is; `email` without leading and
/// trailing ASCII whitespace and with ASCII letters lower-cased. Returns a view of `v` when nothing
/// changes, else of `buffer`, which it overwrites. O(size).
inline std::string_view normalize_identity(identity_rule rule, std::string_view v,
                                           std::string& buffer) {
  if (rule == identity_rule::exact) return v;
  auto space = [](char c) { return c == ' ' || (c >= '\t' && c <= '\r'); };
  while (!v.empty() && space(v.front())) v.remove_prefix(1);
  while (!v.empty() && space(v.back())) v.remove_suffix(1);
  bool upper = false;
  for (char c : v) upper = upper || (c >= 'A' && c <= 'Z');
  if (!upper) return v;
  buffer.assign(v);
  for (char& c : buffer)
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  return buffer;
}

/// The hash of (namespace, normalized value): XXH3 seeded with the namespace.
inline std::uint64_t identity_hash(std::uint32_t ns, std::string_view value) noexcept {
  return XXH3_64bits_withSeed(value.data(), value.size(), ns);
}

/// The sort key of `value` (normalized) in namespace `ns` (< max_identity_namespaces): the top 48
/// bits of identity_hash(ns, value), then `ns`. Equal (ns, value) pairs have equal keys.
inline std::uint64_t identity_key(std::uint32_t ns, std::string_view value) noexcept {
  return (identity_hash(ns, value) & ~std::uint64_t(0xFFFF)) | ns;
}

/// One identity value of one row, 24 bytes (resolving sorts millions of them): its identity_key,
/// the value's bytes (owned by the caller) and the row. Trivial, so that an array of them is
/// allocated without being zeroed first.
struct identity_entry {
  std::uint64_t key;
  const char* data;
  std::uint32_t size;
  std::uint32_t row;

  std::uint32_t ns() const noexcept { return static_cast<std::uint32_t>(key & 0xFFFF); }
  std::string_view value() const noexcept { return {data, size}; }
};

/// Profiles of a set of rows: which rows form each, ranked, and the identity values of each.
/// Rows are numbered 0..rows-1 by the caller; profiles 0..profiles()-1 in the order of their
/// smallest rows (deterministic for a given numbering).
struct resolution {
  std::unique_ptr<identity_entry[]> entries;  ///< run_starts.back() of them, by (key, value, row)
  std::vector<std::uint32_t> run_starts;   ///< entries of one (ns, value): [run_starts[i], [i+1])
  std::vector<std::uint32_t> row_profile;  ///< per row: its profile
  std::vector<std::uint32_t> order;        ///< rows grouped by profile, ranked within one
  std::vector<std::uint32_t> starts;       ///< profile p: order[starts[p], starts[p + 1])

  std::size_t profiles() const noexcept { return starts.empty() ? 0 : starts.size() - 1; }
  std::size_t rows_of(std::size_t p) const noexcept { return starts[p + 1] - starts[p]; }
  std::size_t runs() const noexcept { return run_starts.empty() ? 0 : run_starts.size() - 1; }
  const identity_entry& run_entry(std::uint32_t run) const noexcept {
    return entries[run_starts[run]];
  }
  std::uint32_t run_size(std::uint32_t run) const noexcept {
    return run_starts[run + 1] - run_starts[run];
  }
  /// The profile of run `run` (every row of a run is in one profile). O(1).
  std::uint32_t run_profile(std::uint32_t run) const noexcept {
    return row_profile[run_entry(run).row];
  }
  /// The run of profile `p` shared by the most rows; ties: the lowest ns, then the smallest
  /// value. For messages about one profile: O(runs).
  std::uint32_t widest_run(std::size_t p) const noexcept {
    std::uint32_t w = ~0u;
    for (std::uint32_t r = 0; r < runs(); ++r) {
      if (run_profile(r) != p) continue;
      const identity_entry& e = run_entry(r);
      if (w == ~0u || run_size(r) > run_size(w) ||
          (run_size(r) == run_size(w) &&
           (e.ns() < run_entry(w).ns() ||
            (e.ns() == run_entry(w).ns() && e.value() < run_entry(w).value()))))
        w = r;
    }
    return w;
  }
};

namespace detail {

/// A union-find over row numbers with path halving; the smaller row becomes the root, so every
/// row's parent is that row or a smaller one.
class union_find {
 public:
  explicit union_find(std::size_t n) : parent_(n) {
    for (std::size_t i = 0; i < n; ++i) parent_[i] = static_cast<std::uint32_t>(i);
  }
  /// Numbers the sets 0, 1, ... in the order of their smallest rows and returns, per row, the
  /// number of its set; the union-find is used up. One pass, no find: a row's parent is smaller,
  /// so it is numbered before the row. `sets` receives the number of sets.
  std::vector<std::uint32_t> number_sets(std::size_t& sets) && {
    std::uint32_t next = 0;
    for (std::size_t i = 0; i < parent_.size(); ++i)
      parent_[i] = parent_[i] == i ? next++ : parent_[parent_[i]];
    sets = next;
    return std::move(parent_);
  }
  std::uint32_t find(std::uint32_t x) noexcept {
    while (parent_[x] != x) {
      parent_[x] = parent_[parent_[x]];
      x = parent_[x];
    }
    return x;
  }
  void unite(std::uint32_t a, std::uint32_t b) noexcept {
    a = find(a);
    b = find(b);
    if (a == b) return;
    if (a < b)
      parent_[b] = a;
    else
      parent_[a] = b;
  }

 private:
  std::vector<std::uint32_t> parent_;
};

}  // namespace detail

/// Resolves `rows` rows into profiles: two rows are one profile when they share an identity
/// value (ns, value), transitively. The values come in `slices` parts: `for_each_value(slice,
/// emit)` calls `emit(row, ns, value)` for each value of that part, and must emit the same values
/// in the same order each time (it is called twice per part, from several threads: to count, then
/// to place); values are shorter than 4 GiB, `ns` < max_identity_namespaces, and their bytes
/// outlive the resolution. `max_values` bounds how many values there are (it sizes the buckets).
/// `rank_less(a, b)` orders two rows of one profile, best first (a strict weak order; the caller
/// breaks every tie). Deterministic: the same rows and values give the same profiles however the
/// values are split into parts. Cost: two passes over the values to bucket them by hash, small
/// sorts of integers per bucket (in parallel), O(R) for R rows to group them, and a sort of each
/// profile's rows.
template <class ForEachValue, class RankLess>
resolution resolve_identities(std::size_t slices, ForEachValue for_each_value,
                              std::size_t max_values, std::size_t rows, RankLess rank_less) {
  resolution out;
  // Sorted by (key, row), integers only: placed straight into buckets by the key's top bits (each
  // part counts its values per bucket, then writes them where its counts say, parts in parallel:
  // no array of unsorted entries, no copy), then each bucket sorted, buckets in parallel. Equal
  // (ns, value) pairs are then adjacent unless two values share a 48-bit hash: each group of one
  // key is checked, and the rare group that holds several values is sorted by value.
  const unsigned bits =
      max_values < (1u << 12)
          ? 4
          : static_cast<unsigned>(std::min<std::size_t>(20, std::bit_width(max_values) - 6));
  const std::size_t buckets = std::size_t(1) << bits;
  auto bucket_of = [bits](std::uint64_t k) { return static_cast<std::size_t>(k >> (64 - bits)); };
  slices = std::max<std::size_t>(slices, 1);
  // cursor[s * buckets + k]: where part s writes its next entry of bucket k.
  std::vector<std::uint32_t> cursor(slices * buckets, 0);
  b2bseg::detail::parallel_for(std::size_t(0), slices, [&](std::size_t sl) {
    std::uint32_t* c = cursor.data() + sl * buckets;
    for_each_value(sl, [&](std::uint32_t, std::uint32_t ns, std::string_view v) {
      ++c[bucket_of(identity_key(ns, v))];
    });
  });
  std::vector<std::uint32_t> bucket_start(buckets + 1, 0);
  std::size_t at = 0;
  for (std::size_t k = 0; k < buckets; ++k) {
    bucket_start[k] = static_cast<std::uint32_t>(at);
    for (std::size_t sl = 0; sl < slices; ++sl) {
      const std::uint32_t count = cursor[sl * buckets + k];
      cursor[sl * buckets + k] = static_cast<std::uint32_t>(at);
      at += count;
    }
    if (at >= 0xFFFFFFFFu) throw std::length_error("more than 4G identity values");
  }
  bucket_start[buckets] = static_cast<std::uint32_t>(at);
  out.entries = std::make_unique_for_overwrite<identity_entry[]>(at);
  identity_entry* const es = out.entries.get();
  b2bseg::detail::parallel_for(std::size_t(0), slices, [&](std::size_t sl) {
    std::uint32_t* c = cursor.data() + sl * buckets;
    for_each_value(sl, [&](std::uint32_t row, std::uint32_t ns, std::string_view v) {
      const std::uint64_t key = identity_key(ns, v);
      es[c[bucket_of(key)]++] = {key, v.data(), static_cast<std::uint32_t>(v.size()), row};
    });
  });
  std::vector<std::uint32_t>().swap(cursor);
  // Per bucket: sort, then its runs (a run never crosses buckets: one key, one bucket).
  std::vector<std::vector<std::uint32_t>> bucket_runs((buckets + 255) /
                                                      256);  // runs of each block of 256 buckets
  // Checking a group's values reads bytes anywhere in the sources: the values of one bucket's
  // groups are fetched ahead while the next bucket is sorted.
  auto sort_bucket = [&](std::size_t k) {
    std::sort(es + bucket_start[k], es + bucket_start[k + 1],
              [](const identity_entry& x, const identity_entry& y) {
                return x.key != y.key ? x.key < y.key : x.row < y.row;
              });
  };
  b2bseg::detail::parallel_for(std::size_t(0), bucket_runs.size(), [&](std::size_t blk) {
    std::vector<std::uint32_t>& starts = bucket_runs[blk];
    const std::size_t first = blk * 256, last = std::min(buckets, blk * 256 + 256);
    sort_bucket(first);
    for (std::size_t k = first; k < last; ++k) {
      for (std::size_t i = bucket_start[k] + 1; i < bucket_start[k + 1]; ++i)
        if (es[i].key == es[i - 1].key) {
          __builtin_prefetch(es[i - 1].data);
          __builtin_prefetch(es[i].data);
        }
      if (k + 1 < last) sort_bucket(k + 1);
      for (std::size_t i = bucket_start[k]; i < bucket_start[k + 1];) {
        std::size_t j = i + 1;
        bool mixed = false;
        while (j < bucket_start[k + 1] && es[j].key == es[i].key) {
          mixed = mixed || !same_text(es[j].value(), es[i].value());
          ++j;
        }
        if (mixed) {
          std::sort(es + i, es + j, [](const identity_entry& x, const identity_entry& y) {
            return x.value() != y.value() ? x.value() < y.value() : x.row < y.row;
          });
          for (std::size_t m = i; m < j; ++m)
            if (m == i || es[m].value() != es[m - 1].value())
              starts.push_back(static_cast<std::uint32_t>(m));
        } else {
          starts.push_back(static_cast<std::uint32_t>(i));
        }
        i = j;
      }
    }
  });
  std::size_t total_runs = 0;
  for (const auto& r : bucket_runs) total_runs += r.size();
  out.run_starts.reserve(total_runs + 1);
  for (const auto& r : bucket_runs) out.run_starts.insert(out.run_starts.end(), r.begin(), r.end());
  const std::size_t runs = out.run_starts.size();
  out.run_starts.push_back(static_cast<std::uint32_t>(at));

  detail::union_find uf(rows);
  for (std::size_t r = 0; r < runs; ++r)
    for (std::uint32_t i = out.run_starts[r] + 1; i < out.run_starts[r + 1]; ++i)
      uf.unite(es[out.run_starts[r]].row, es[i].row);

  // Profiles numbered in the order of their smallest rows, then the rows grouped by profile with
  // a counting sort, and ranked within each group.
  std::size_t profiles = 0;
  out.row_profile = std::move(uf).number_sets(profiles);
  out.starts.assign(profiles + 1, 0);
  for (std::size_t i = 0; i < rows; ++i) ++out.starts[out.row_profile[i] + 1];
  for (std::size_t p = 0; p < profiles; ++p) out.starts[p + 1] += out.starts[p];
  out.order.resize(rows);
  {
    std::vector<std::uint32_t> fill(out.starts.begin(), out.starts.end() - 1);
    for (std::size_t i = 0; i < rows; ++i)
      out.order[fill[out.row_profile[i]]++] = static_cast<std::uint32_t>(i);
  }
  b2bseg::detail::parallel_for(tbb::blocked_range<std::size_t>(0, profiles, 1024),
                               [&](const tbb::blocked_range<std::size_t>& g) {
                                 for (std::size_t p = g.begin(); p < g.end(); ++p)
                                   if (out.starts[p + 1] - out.starts[p] > 1)
                                     std::sort(out.order.begin() + out.starts[p],
                                               out.order.begin() + out.starts[p + 1], rank_less);
                               });
  return out;
}

/// A hash index from (namespace, normalized value) to profile, over a resolution's runs: how
/// links naming a namespace (`"identity": "sfdc_id"`) find their target. Immutable once built;
/// safe to read from many threads. Lookup O(1) expected. Keeps each value's key and a view of its
/// bytes (the caller keeps the bytes alive; the resolution's entries may go).
class identity_index {
 public:
  identity_index() = default;

  /// Indexes every run of `res`; `profile_of` maps a resolution profile to what lookups return
  /// (~0u: the profile is gone, lookups miss). O(runs).
  identity_index(const resolution& res, const std::vector<std::uint32_t>& profile_of) {
    const std::size_t runs = res.runs();
    values_.reserve(runs);
    for (std::uint32_t r = 0; r < runs; ++r) {
      const std::uint32_t p = profile_of[res.run_profile(r)];
      if (p == ~0u) continue;
      const identity_entry& e = res.run_entry(r);
      values_.push_back({e.key, p, e.size, e.data});
    }
    const std::size_t cap = std::bit_ceil(std::max<std::size_t>(16, values_.size() * 2));
    slots_.assign(cap, 0);
    for (std::size_t i = 0; i < values_.size(); ++i) {
      std::size_t s = (values_[i].key >> 16) & (cap - 1);
      while (slots_[s]) s = (s + 1) & (cap - 1);
      slots_[s] = static_cast<std::uint32_t>(i + 1);
    }
  }

  /// The profile holding `value` (already normalized) in namespace `ns`, or ~0u.
  std::uint32_t find(std::uint32_t ns, std::string_view value) const noexcept {
    if (slots_.empty()) return ~0u;
    const std::uint64_t h = identity_key(ns, value);
    const std::size_t mask = slots_.size() - 1;
    for (std::size_t s = (h >> 16) & mask;; s = (s + 1) & mask) {
      const std::uint32_t i = slots_[s];
      if (!i) return ~0u;
      const item& v = values_[i - 1];
      if (v.key == h && same_text({v.data, v.size}, value)) return v.profile;
    }
  }
  /// Identity values indexed.
  std::size_t size() const noexcept { return values_.size(); }
  /// Bytes of the index itself (not of the values' characters, which the caller owns).
  std::size_t memory_bytes() const noexcept {
    return values_.capacity() * sizeof(item) + slots_.capacity() * sizeof(std::uint32_t);
  }

 private:
  struct item {  // an identity_entry's key and value, with the value's profile
    std::uint64_t key;
    std::uint32_t profile;
    std::uint32_t size;
    const char* data;
  };
  std::vector<item> values_;
  std::vector<std::uint32_t> slots_;
};

}  // namespace b2bseg
