// Edit distance between names and the closest-name lookup behind "did you mean '...'?" hints.
#pragma once

#include <algorithm>
#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace b2bseg {

namespace detail {

constexpr char edit_lower(char c) noexcept {
  return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c;
}

}  // namespace detail

/// Optimal string alignment distance between `a` and `b`: the number of single-byte insertions,
/// deletions, substitutions and transpositions of two adjacent bytes that turn one into the other.
/// Bytes are compared ignoring ASCII case, so `Industry` is at distance 0 from `industry`.
/// Returns early with any value greater than `limit` once the distance is known to exceed it.
/// O(|a| * |b|) time, O(|b|) memory (allocates).
inline std::size_t edit_distance(std::string_view a, std::string_view b,
                                 std::size_t limit = static_cast<std::size_t>(-1)) {
  const std::size_t n = a.size(), m = b.size();
  const std::size_t length_gap = n > m ? n - m : m - n;
  if (length_gap > limit) return length_gap;
  if (n == 0) return m;
  if (m == 0) return n;
  // Three rows of the dynamic-programming table: i-2, i-1 and i.
  std::vector<std::size_t> before(m + 1), previous(m + 1), current(m + 1);
  for (std::size_t j = 0; j <= m; ++j) previous[j] = j;
  for (std::size_t i = 1; i <= n; ++i) {
    current[0] = i;
    std::size_t row_min = current[0];
    const char ca = detail::edit_lower(a[i - 1]);
    for (std::size_t j = 1; j <= m; ++j) {
      const char cb = detail::edit_lower(b[j - 1]);
      const std::size_t cost = ca == cb ? 0 : 1;
      std::size_t d = std::min({previous[j] + 1, current[j - 1] + 1, previous[j - 1] + cost});
      if (i > 1 && j > 1 && ca == detail::edit_lower(b[j - 2]) &&
          detail::edit_lower(a[i - 2]) == cb)
        d = std::min(d, before[j - 2] + 1);
      current[j] = d;
      row_min = std::min(row_min, d);
    }
    if (row_min > limit) return row_min;
    std::swap(before, previous);
    std::swap(previous, current);
  }
  return previous[m];
}

/// The candidate closest to `word` by edit_distance, when it is close enough to be a plausible
/// typo: at most 1 + |word| / 4 edits and fewer edits than `word` has bytes. Ties go to the
/// earlier candidate. Returns an empty string when none qualifies, and never `word` itself.
/// O(sum of |word| * |candidate|); allocates the result.
inline std::string closest_name(std::string_view word,
                                const std::vector<std::string_view>& candidates) {
  const std::size_t allowed = 1 + word.size() / 4;
  std::size_t best = allowed + 1;
  std::string_view found;
  for (std::string_view c : candidates) {
    if (c == word || c.empty()) continue;
    const std::size_t d = edit_distance(word, c, allowed);
    if (d <= allowed && d < word.size() && d < best) {
      best = d;
      found = c;
    }
  }
  return std::string(found);
}

/// Formats the hint for `word`: `; did you mean 'NAME'?` for the closest candidate, or an empty
/// string when none is close. O(closest_name); allocates.
inline std::string did_you_mean(std::string_view word,
                                const std::vector<std::string_view>& candidates) {
  std::string best = closest_name(word, candidates);
  if (best.empty()) return {};
  return "; did you mean '" + best + "'?";
}

}  // namespace b2bseg
