// `overlap` (SPEC 4): for segments on one entity, every pair's exact intersection and Jaccard
// index, from popcounts of ANDs over flat bitsets, all pairs in one parallel pass over the rows.
#pragma once

#include <tbb/blocked_range.h>

#include <roaring/roaring.hh>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <string>
#include <vector>

#include "b2bseg/common/exact.hpp"
#include "b2bseg/detail/json.hpp"
#include "b2bseg/exec/bitset.hpp"
#include "b2bseg/exec/parallel.hpp"

namespace b2bseg {

/// One unordered pair of segments: `a` < `b` index the segments of the `overlap_result`.
struct overlap_pair {
  std::uint32_t a = 0, b = 0;
  std::uint64_t count = 0;  ///< members of both
  double jaccard = 0;       ///< count / members of either; 0 when both are empty
};

/// The overlap of some segments on one entity.
struct overlap_result {
  std::vector<std::string> names;     ///< the segments, in the order given
  std::vector<std::uint64_t> counts;  ///< members of each
  std::vector<overlap_pair> pairs;    ///< (0,1), (0,2), ... (1,2), ...: each pair once
};

/// Overlaps of `sets` (members as row ids under `rows`, all of one entity; `names` names each).
/// The sets are laid out as bitsets, then each block of 64k rows is one task that counts every
/// pair in it while the block's words of all sets stay in cache. Exact. Cost: O(sets x rows / 64)
/// to lay out, O(pairs x rows / 64) word ANDs and popcounts (SIMD), split over the threads of
/// the calling arena; memory: one bit per row per set. Throws std::bad_alloc.
inline overlap_result compute_overlap(std::size_t rows, const std::vector<const Roaring*>& sets,
                                      std::vector<std::string> names) {
  overlap_result out;
  out.names = std::move(names);
  const std::size_t k = sets.size();
  std::vector<bitset> bits;
  bits.reserve(k);
  for (const Roaring* s : sets) {
    bits.push_back(to_bitset(*s, rows));
    out.counts.push_back(s->cardinality());
  }
  for (std::uint32_t a = 0; a < k; ++a)
    for (std::uint32_t b = a + 1; b < k; ++b) out.pairs.push_back({a, b, 0, 0});
  const std::size_t words = (rows + 63) / 64, block = 1024;  // 64k rows
  const std::size_t blocks = (words + block - 1) / block;
  std::vector<std::vector<std::uint64_t>> partial(blocks);
  detail::parallel_for(std::size_t(0), blocks, [&](std::size_t blk) {
    const std::size_t w0 = blk * block, n = std::min(block, words - w0);
    std::vector<std::uint64_t>& c = partial[blk];
    c.reserve(out.pairs.size());
    for (const overlap_pair& p : out.pairs)
      c.push_back(and_popcount_words(bits[p.a].words() + w0, bits[p.b].words() + w0, n));
  });
  for (std::size_t i = 0; i < out.pairs.size(); ++i) {
    overlap_pair& p = out.pairs[i];
    for (const auto& c : partial) p.count += c[i];
    const std::uint64_t either = out.counts[p.a] + out.counts[p.b] - p.count;
    p.jaccard = either ? static_cast<double>(p.count) / static_cast<double>(either) : 0.0;
  }
  return out;
}

/// `overlap --json` (SPEC 4): `{"entity": E, "segments": [{"name", "count"}...], "pairs":
/// [{"a", "b", "count", "jaccard"}...]}` and a newline.
inline std::string overlap_json(const overlap_result& o, const std::string& entity) {
  std::string out = "{\"entity\": ";
  detail::append_json_string(out, entity);
  out += ", \"segments\": [";
  for (std::size_t i = 0; i < o.names.size(); ++i) {
    out += i ? ", {\"name\": " : "{\"name\": ";
    detail::append_json_string(out, o.names[i]);
    out += ", \"count\": " + std::to_string(o.counts[i]) + "}";
  }
  out += "], \"pairs\": [";
  for (std::size_t i = 0; i < o.pairs.size(); ++i) {
    const overlap_pair& p = o.pairs[i];
    out += i ? ", {\"a\": " : "{\"a\": ";
    detail::append_json_string(out, o.names[p.a]);
    out += ", \"b\": ";
    detail::append_json_string(out, o.names[p.b]);
    out += ", \"count\": " + std::to_string(p.count) + ", \"jaccard\": ";
    detail::append_double(out, p.jaccard);
    out += "}";
  }
  out += "]}\n";
  return out;
}

/// `overlap` as a table: a row per pair with both counts, the intersection and the Jaccard index
/// (4 decimals).
inline std::string overlap_text(const overlap_result& o, const std::string& entity) {
  std::size_t wa = 1, wb = 1;
  for (const auto& p : o.pairs) {
    wa = std::max(wa, o.names[p.a].size());
    wb = std::max(wb, o.names[p.b].size());
  }
  auto pad = [](std::string s, std::size_t w) {
    if (s.size() < w) s.append(w - s.size(), ' ');
    return s;
  };
  auto right = [](std::string s, std::size_t w) {
    if (s.size() < w) s.insert(0, w - s.size(), ' ');
    return s;
  };
  std::string out = std::to_string(o.names.size()) + " segments on " + entity + ", " +
                    std::to_string(o.pairs.size()) + " pairs\n";
  out += pad("a", wa) + "  " + pad("b", wb) + "  " + right("|a|", 10) + "  " + right("|b|", 10) +
         "  " + right("both", 10) + "  " + right("jaccard", 8) + "\n";
  for (const auto& p : o.pairs) {
    char j[32];
    std::snprintf(j, sizeof j, "%.4f", p.jaccard);
    out += pad(o.names[p.a], wa) + "  " + pad(o.names[p.b], wb) + "  " +
           right(std::to_string(o.counts[p.a]), 10) + "  " +
           right(std::to_string(o.counts[p.b]), 10) + "  " + right(std::to_string(p.count), 10) +
           "  " + right(j, 8) + "\n";
  }
  return out;
}

}  // namespace b2bseg
