// Identity resolution (SPEC 2.3): rows that share a normalized identity value, transitively, are
// one profile. Connected components by sorting (namespace, value) pairs and a union-find; the
// profile key, the most shared value and a hash index from identity values to profiles.
#pragma once

#define XXH_INLINE_ALL
#include <xxhash.h>

#include <algorithm>
#include <bit>
#include <cstdint>
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

/// One identity value of one row: namespace `ns` (index in the entity's identities), the
/// normalized `value` (its bytes owned by the caller) and `hash` = identity_hash(ns, value).
struct identity_entry {
  std::uint64_t hash = 0;
  std::uint32_t row = 0;
  std::uint32_t ns = 0;
  std::string_view value;
};

/// The hash of (namespace, normalized value): XXH3 seeded with the namespace.
inline std::uint64_t identity_hash(std::uint32_t ns, std::string_view value) noexcept {
  return XXH3_64bits_withSeed(value.data(), value.size(), ns);
}

/// Profiles of a set of rows: which rows form each, ranked, and the identity values of each.
/// Rows are numbered 0..rows-1 by the caller; profiles 0..profiles()-1 in the order of their
/// first ranked row's group (deterministic for a given numbering).
struct resolution {
  std::vector<identity_entry> entries;     ///< sorted by (hash, ns, value, row)
  std::vector<std::uint32_t> run_starts;   ///< entries of one (ns, value): [run_starts[i], [i+1])
  std::vector<std::uint32_t> run_profile;  ///< per run: its profile
  std::vector<std::uint32_t> order;        ///< rows grouped by profile, ranked within one
  std::vector<std::uint32_t> starts;       ///< profile p: order[starts[p], starts[p + 1])

  std::size_t profiles() const noexcept { return starts.empty() ? 0 : starts.size() - 1; }
  std::size_t rows_of(std::size_t p) const noexcept { return starts[p + 1] - starts[p]; }
  const identity_entry& run_entry(std::uint32_t run) const noexcept {
    return entries[run_starts[run]];
  }
  std::uint32_t run_size(std::uint32_t run) const noexcept {
    return run_starts[run + 1] - run_starts[run];
  }
  /// The run of profile `p` shared by the most rows; ties: the lowest ns, then the smallest
  /// value. For messages about one profile: O(runs).
  std::uint32_t widest_run(std::size_t p) const noexcept {
    std::uint32_t w = ~0u;
    for (std::uint32_t r = 0; r + 1 < run_starts.size(); ++r) {
      if (run_profile[r] != p) continue;
      const identity_entry& e = run_entry(r);
      if (w == ~0u || run_size(r) > run_size(w) ||
          (run_size(r) == run_size(w) &&
           (e.ns < run_entry(w).ns || (e.ns == run_entry(w).ns && e.value < run_entry(w).value))))
        w = r;
    }
    return w;
  }
};

namespace detail {

/// A union-find over row numbers with path halving; the smaller row becomes the root.
class union_find {
 public:
  explicit union_find(std::size_t n) : parent_(n) {
    for (std::size_t i = 0; i < n; ++i) parent_[i] = static_cast<std::uint32_t>(i);
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

/// Resolves `rows` rows whose identity values are `entries` (every row should have at least one)
/// into profiles: two rows are one profile when they share an entry's (ns, value), transitively.
/// `rank_less(a, b)` orders two rows of one profile, best first (a strict weak order; the caller
/// breaks every tie). Deterministic: the same rows and entries give the same profiles whatever the
/// order of `entries`. Cost: O(E) for E entries to bucket them by hash, small sorts of integers
/// per bucket (in parallel), O(R) for R rows to group them, and a sort of each profile's rows.
template <class RankLess>
resolution resolve_identities(std::vector<identity_entry> entries, std::size_t rows,
                              RankLess rank_less) {
  resolution out;
  // Sorted by (hash, ns, row), integers only: first scattered into buckets by the hash's top bits
  // (slices of the entries counted, then scattered, in parallel), then each bucket sorted, buckets
  // in parallel. Equal (ns, value) pairs are then adjacent unless two values share a 64-bit hash:
  // each group of one (hash, ns) is checked, and the rare group that holds several values is
  // sorted by value.
  const std::size_t n = entries.size();
  const unsigned bits =
      n < (1u << 12) ? 4 : static_cast<unsigned>(std::min<std::size_t>(20, std::bit_width(n) - 6));
  const std::size_t buckets = std::size_t(1) << bits;
  auto bucket_of = [bits](std::uint64_t h) { return static_cast<std::size_t>(h >> (64 - bits)); };
  const std::size_t slices = std::clamp<std::size_t>(
      n >> 18, 1, 2 * static_cast<std::size_t>(tbb::this_task_arena::max_concurrency()));
  // cursor[s * buckets + k]: where slice s writes its next entry of bucket k.
  std::vector<std::uint32_t> cursor(slices * buckets, 0);
  b2bseg::detail::parallel_for(std::size_t(0), slices, [&](std::size_t sl) {
    std::uint32_t* c = cursor.data() + sl * buckets;
    for (std::size_t i = n * sl / slices; i < n * (sl + 1) / slices; ++i)
      ++c[bucket_of(entries[i].hash)];
  });
  std::vector<std::uint32_t> bucket_start(buckets + 1, 0);
  std::uint32_t at = 0;
  for (std::size_t k = 0; k < buckets; ++k) {
    bucket_start[k] = at;
    for (std::size_t sl = 0; sl < slices; ++sl) {
      const std::uint32_t count = cursor[sl * buckets + k];
      cursor[sl * buckets + k] = at;
      at += count;
    }
  }
  bucket_start[buckets] = at;
  out.entries.resize(n);
  b2bseg::detail::parallel_for(std::size_t(0), slices, [&](std::size_t sl) {
    std::uint32_t* c = cursor.data() + sl * buckets;
    for (std::size_t i = n * sl / slices; i < n * (sl + 1) / slices; ++i)
      out.entries[c[bucket_of(entries[i].hash)]++] = entries[i];
  });
  std::vector<identity_entry>().swap(entries);
  std::vector<std::uint32_t>().swap(cursor);
  auto& es = out.entries;
  // Per bucket: sort, then its runs (a run never crosses buckets: one hash, one bucket).
  std::vector<std::vector<std::uint32_t>> bucket_runs((buckets + 255) /
                                                      256);  // runs of each block of 256 buckets
  b2bseg::detail::parallel_for(std::size_t(0), bucket_runs.size(), [&](std::size_t blk) {
    std::vector<std::uint32_t>& starts = bucket_runs[blk];
    for (std::size_t k = blk * 256; k < std::min(buckets, blk * 256 + 256); ++k) {
      const auto first = es.begin() + bucket_start[k], last = es.begin() + bucket_start[k + 1];
      std::sort(first, last, [](const identity_entry& x, const identity_entry& y) {
        if (x.hash != y.hash) return x.hash < y.hash;
        if (x.ns != y.ns) return x.ns < y.ns;
        return x.row < y.row;
      });
      for (std::size_t i = bucket_start[k]; i < bucket_start[k + 1];) {
        std::size_t j = i + 1;
        bool mixed = false;
        while (j < bucket_start[k + 1] && es[j].hash == es[i].hash && es[j].ns == es[i].ns) {
          mixed = mixed || !same_text(es[j].value, es[i].value);
          ++j;
        }
        if (mixed) {
          std::sort(es.begin() + i, es.begin() + j,
                    [](const identity_entry& x, const identity_entry& y) {
                      return x.value != y.value ? x.value < y.value : x.row < y.row;
                    });
          for (std::size_t m = i; m < j; ++m)
            if (m == i || es[m].value != es[m - 1].value)
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
  out.run_starts.push_back(static_cast<std::uint32_t>(es.size()));

  detail::union_find uf(rows);
  for (std::size_t r = 0; r < runs; ++r)
    for (std::uint32_t i = out.run_starts[r] + 1; i < out.run_starts[r + 1]; ++i)
      uf.unite(es[out.run_starts[r]].row, es[i].row);
  std::vector<std::uint32_t> root(rows);
  for (std::size_t i = 0; i < rows; ++i) root[i] = uf.find(static_cast<std::uint32_t>(i));

  // Rows grouped by root (the smallest row of the profile, so profiles come in the order of
  // their first rows) with a counting sort, then ranked within each group.
  std::vector<std::uint32_t> profile_of_root(rows, ~0u);
  for (std::size_t i = 0; i < rows; ++i)
    if (root[i] == i) {
      profile_of_root[i] = static_cast<std::uint32_t>(out.starts.size());
      out.starts.push_back(0);
    }
  const std::size_t profiles = out.starts.size();
  out.starts.push_back(0);
  for (std::size_t i = 0; i < rows; ++i) ++out.starts[profile_of_root[root[i]] + 1];
  for (std::size_t p = 0; p < profiles; ++p) out.starts[p + 1] += out.starts[p];
  out.order.resize(rows);
  {
    std::vector<std::uint32_t> fill(out.starts.begin(), out.starts.end() - 1);
    for (std::size_t i = 0; i < rows; ++i)
      out.order[fill[profile_of_root[root[i]]]++] = static_cast<std::uint32_t>(i);
  }
  b2bseg::detail::parallel_for(tbb::blocked_range<std::size_t>(0, profiles, 1024),
                               [&](const tbb::blocked_range<std::size_t>& g) {
                                 for (std::size_t p = g.begin(); p < g.end(); ++p)
                                   if (out.starts[p + 1] - out.starts[p] > 1)
                                     std::sort(out.order.begin() + out.starts[p],
                                               out.order.begin() + out.starts[p + 1], rank_less);
                               });

  out.run_profile.resize(runs);
  b2bseg::detail::parallel_for(tbb::blocked_range<std::size_t>(0, runs, 4096),
                               [&](const tbb::blocked_range<std::size_t>& g) {
                                 for (std::size_t r = g.begin(); r < g.end(); ++r)
                                   out.run_profile[r] =
                                       profile_of_root[root[es[out.run_starts[r]].row]];
                               });
  return out;
}

/// A hash index from (namespace, normalized value) to profile, over a resolution's runs: how
/// links naming a namespace (`"identity": "sfdc_id"`) find their target. Immutable once built;
/// safe to read from many threads. Lookup O(1) expected. Holds views into the resolution's
/// entries, whose bytes the caller keeps alive.
class identity_index {
 public:
  identity_index() = default;

  /// Indexes every run of `res`; `profile_of` maps a resolution profile to what lookups return
  /// (~0u: the profile is gone, lookups miss). O(runs).
  identity_index(const resolution& res, const std::vector<std::uint32_t>& profile_of) {
    const std::size_t runs = res.run_profile.size();
    values_.reserve(runs);
    for (std::uint32_t r = 0; r < runs; ++r) {
      const std::uint32_t p = profile_of[res.run_profile[r]];
      if (p == ~0u) continue;
      const identity_entry& e = res.run_entry(r);
      values_.push_back({e.hash, e.ns, p, e.value});
    }
    const std::size_t cap = std::bit_ceil(std::max<std::size_t>(16, values_.size() * 2));
    slots_.assign(cap, 0);
    for (std::size_t i = 0; i < values_.size(); ++i) {
      std::size_t s = values_[i].hash & (cap - 1);
      while (slots_[s]) s = (s + 1) & (cap - 1);
      slots_[s] = static_cast<std::uint32_t>(i + 1);
    }
  }

  /// The profile holding `value` (already normalized) in namespace `ns`, or ~0u.
  std::uint32_t find(std::uint32_t ns, std::string_view value) const noexcept {
    if (slots_.empty()) return ~0u;
    const std::uint64_t h = identity_hash(ns, value);
    const std::size_t mask = slots_.size() - 1;
    for (std::size_t s = h & mask;; s = (s + 1) & mask) {
      const std::uint32_t i = slots_[s];
      if (!i) return ~0u;
      const item& v = values_[i - 1];
      if (v.hash == h && v.ns == ns && v.value == value) return v.profile;
    }
  }
  /// Identity values indexed.
  std::size_t size() const noexcept { return values_.size(); }
  /// Bytes of the index itself (not of the values' characters, which the caller owns).
  std::size_t memory_bytes() const noexcept {
    return values_.capacity() * sizeof(item) + slots_.capacity() * sizeof(std::uint32_t);
  }

 private:
  struct item {
    std::uint64_t hash;
    std::uint32_t ns;
    std::uint32_t profile;
    std::string_view value;
  };
  std::vector<item> values_;
  std::vector<std::uint32_t> slots_;
};

}  // namespace b2bseg
