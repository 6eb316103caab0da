// SQL LIKE matching on UTF-8 bytes: `%` any run, `_` one UTF-8 character, `\` escapes.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace b2bseg {

namespace detail {
inline char like_fold(char c) noexcept {
  return (c >= 'A' && c <= 'Z') ? char(c - 'A' + 'a') : c;
}
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
  auto eq = [ci](char a, char b) {
    return ci ? detail::like_fold(a) == detail::like_fold(b) : a == b;
  };
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

namespace b2bseg {

/// A LIKE pattern compiled once and matched against many strings (a dictionary). Patterns made of
/// literal pieces and `%` only (no `_`, no escape) match by searching the pieces in order, which
/// is linear; others fall back to `like_match`. Matching is thread-safe.
class like_matcher {
 public:
  like_matcher(std::string_view pattern, bool ci) : pattern_(pattern), ci_(ci) {
    simple_ = pattern.find_first_of("_\\") == std::string_view::npos;
    if (!simple_) return;
    std::string folded(pattern);
    if (ci)
      for (char& c : folded) c = detail::like_fold(c);
    std::size_t start = 0;
    while (start <= folded.size()) {
      std::size_t pct = folded.find('%', start);
      if (pct == std::string::npos) pct = folded.size();
      pieces_.push_back(folded.substr(start, pct - start));
      start = pct + 1;
    }
  }

  bool operator()(std::string_view text) const {
    if (!simple_) return like_match(pattern_, text, ci_);
    if (!ci_) return match_pieces(text);
    std::string folded(text);
    for (char& c : folded) c = detail::like_fold(c);
    return match_pieces(folded);
  }

 private:
  bool match_pieces(std::string_view t) const {
    // pieces_ has k+1 entries for k `%`; the first is anchored at the start, the last at the end.
    if (pieces_.size() == 1) return t == pieces_[0];
    const std::string& first = pieces_.front();
    const std::string& last = pieces_.back();
    if (t.size() < first.size() + last.size()) return false;
    if (t.substr(0, first.size()) != first) return false;
    if (t.substr(t.size() - last.size()) != last) return false;
    std::size_t pos = first.size();
    const std::size_t end = t.size() - last.size();
    for (std::size_t i = 1; i + 1 < pieces_.size(); ++i) {
      if (pieces_[i].empty()) continue;
      std::size_t at = t.substr(0, end).find(pieces_[i], pos);
      if (at == std::string_view::npos) return false;
      pos = at + pieces_[i].size();
    }
    return true;
  }

  std::string pattern_;
  bool ci_;
  bool simple_ = false;
  std::vector<std::string> pieces_;
};

}  // namespace b2bseg
