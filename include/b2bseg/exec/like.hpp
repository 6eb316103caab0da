// SQL LIKE matching on UTF-8 bytes: `%` any run, `_` one UTF-8 character, `\` escapes.
#pragma once

#include <cstddef>
#include <string_view>

namespace b2bseg {

namespace detail {
inline char like_fold(char c) noexcept { return (c >= 'A' && c <= 'Z') ? char(c - 'A' + 'a') : c; }
/// Length of the UTF-8 character starting with byte `c` (1 for stray continuation bytes).
inline std::size_t utf8_length(unsigned char c) noexcept {
  return c < 0xC0 ? 1 : c < 0xE0 ? 2 : c < 0xF0 ? 3 : 4;
}
}  // namespace detail

/// Whether `text` matches the LIKE `pattern`; `ci` ignores ASCII case (ilike). O(|p|·|t|) worst
/// case, no recursion (a `%` only ever backtracks to the last `%`).
inline bool like_match(std::string_view pattern, std::string_view text, bool ci) noexcept {
  std::size_t p = 0, t = 0;
  std::size_t star_p = std::string_view::npos, star_t = 0;
  auto eq = [ci](char a, char b) { return ci ? detail::like_fold(a) == detail::like_fold(b) : a == b; };
  while (t < text.size()) {
    if (p < pattern.size()) {
      char c = pattern[p];
      if (c == '%') {
        star_p = ++p;
        star_t = t;
        continue;
      }
      if (c == '_') {
        t += detail::utf8_length(static_cast<unsigned char>(text[t]));
        if (t > text.size()) t = text.size();
        ++p;
        continue;
      }
      std::size_t lit = p;
      if (c == '\\' && p + 1 < pattern.size()) lit = p + 1;
      if (eq(pattern[lit], text[t])) {
        p = lit + 1;
        ++t;
        continue;
      }
    }
    if (star_p == std::string_view::npos) return false;
    // Let the last `%` swallow one more whole UTF-8 character, so `_` never starts mid-sequence.
    p = star_p;
    star_t += detail::utf8_length(static_cast<unsigned char>(text[star_t]));
    if (star_t > text.size()) return false;
    t = star_t;
  }
  while (p < pattern.size() && pattern[p] == '%') ++p;
  return p == pattern.size();
}

}  // namespace b2bseg
